DROP TABLE remedy_cases;

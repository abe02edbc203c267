DROP TABLE letterheads;

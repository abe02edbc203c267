DROP INDEX requests_late;

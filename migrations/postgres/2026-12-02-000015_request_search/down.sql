DROP INDEX requests_search_pending;
DROP INDEX requests_search;
ALTER TABLE requests DROP COLUMN search_text;

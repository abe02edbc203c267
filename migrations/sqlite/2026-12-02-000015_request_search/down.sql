DROP TRIGGER request_search_delete;
DROP TRIGGER request_search_update;
DROP TRIGGER request_search_insert;
DROP TABLE request_search;
DROP INDEX requests_search_pending;
ALTER TABLE requests DROP COLUMN search_text;

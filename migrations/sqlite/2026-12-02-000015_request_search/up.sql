-- The free-text search of the list (`q`): see the PostgreSQL migration. SQLite keeps the grams
-- in an FTS5 table, in step with `requests.search_text` by triggers. Its rows are found by the
-- application's id (an indexed column matched as a phrase), not by `rowid`, which VACUUM may
-- renumber in a table without an INTEGER PRIMARY KEY.
ALTER TABLE requests ADD COLUMN search_text TEXT;
CREATE INDEX requests_search_pending ON requests (id) WHERE search_text IS NULL;
CREATE VIRTUAL TABLE request_search USING fts5(
    request_id, grams, tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER request_search_insert AFTER INSERT ON requests
WHEN new.search_text IS NOT NULL
BEGIN
    INSERT INTO request_search (request_id, grams) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER request_search_update AFTER UPDATE OF search_text ON requests
WHEN new.search_text IS NOT old.search_text
BEGIN
    DELETE FROM request_search
        WHERE request_search MATCH '{request_id} : "' || old.id || '"' AND request_id = old.id;
    INSERT INTO request_search (request_id, grams)
        SELECT new.id, new.search_text WHERE new.search_text IS NOT NULL;
END;
CREATE TRIGGER request_search_delete AFTER DELETE ON requests
BEGIN
    DELETE FROM request_search
        WHERE request_search MATCH '{request_id} : "' || old.id || '"' AND request_id = old.id;
END;

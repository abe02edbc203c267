DROP TABLE request_search;
CREATE VIRTUAL TABLE request_search USING fts5(
    request_id, grams, tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO request_search (request_id, grams)
    SELECT id, search_text FROM requests WHERE search_text IS NOT NULL;

-- SQLite's FTS5 copy of the search grams changes its tokenizer (see the SQLite migration of
-- the same name). PostgreSQL compares the grams as whole array elements already. This
-- migration keeps the two backends' migration lists the same.
SELECT 1;

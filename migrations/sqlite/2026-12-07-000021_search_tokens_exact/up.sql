-- The FTS5 copy of the search grams, tokenized by `ascii` instead of `unicode61`. Each gram is
-- a run of letters or digits without spaces; `ascii` makes every non-ASCII character a token
-- character, so each gram is exactly one token. `unicode61` ended a token at a combining mark
-- (Devanagari ि, Tibetan ི, the subjoined letters of Tibetan stacks): a gram of two marks
-- became no token and its search found nothing, and `का` was looked up as `क`.
DROP TABLE request_search;
CREATE VIRTUAL TABLE request_search USING fts5(request_id, grams, tokenize = 'ascii');
INSERT INTO request_search (request_id, grams)
    SELECT id, search_text FROM requests WHERE search_text IS NOT NULL;

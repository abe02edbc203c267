-- The free-text search of the list (`q`): the distinct characters and character pairs of the
-- case number, applicant name and description, space-separated, written by the application
-- (`db::search`). NULL until written: rows of older releases are filled in batches after start,
-- and a search also rechecks the NULL ones, so nothing is missed meanwhile.
ALTER TABLE requests ADD COLUMN search_text TEXT;
-- An array index, not a text-search one: the grams are taken as they are, whatever the
-- database's locale thinks a word character is.
CREATE INDEX requests_search ON requests USING gin (string_to_array(search_text, ' '));
CREATE INDEX requests_search_pending ON requests (id) WHERE search_text IS NULL;

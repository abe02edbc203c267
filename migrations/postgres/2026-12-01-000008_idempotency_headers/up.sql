-- The first answer of a creating POST is replayed whole: status, body and the headers that
-- locate and version what was created (Location, ETag), as a JSON array of [name, value].
ALTER TABLE idempotency_keys ADD COLUMN response_headers TEXT NOT NULL DEFAULT '[]';

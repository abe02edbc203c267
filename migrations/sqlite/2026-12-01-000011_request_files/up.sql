-- Papers on file for an application (issue 13 item 8): the application letter and its
-- envelope, identity copies, correction material, proofs of service, the signed reply.
-- The bytes live in the documents folder under their SHA-256 (documents.dir); this row is the
-- reference, inserted only after the blob is on disk. Rows are never updated or deleted: a new
-- version is a new row naming the one it supersedes, and each row is superseded at most once.
CREATE TABLE request_files (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests(id),
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    note TEXT,
    supersedes TEXT REFERENCES request_files(id),
    version INTEGER NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL
);
CREATE INDEX request_files_request ON request_files(request_id, uploaded_at, id);
CREATE UNIQUE INDEX request_files_supersedes ON request_files(supersedes);

-- The letterhead of an agency's notices (issue 13 item 1): its own fields as a versioned JSON
-- document ("format": N); absent fields are inherited from the agencies above it.
CREATE TABLE letterheads (
    agency_id TEXT PRIMARY KEY REFERENCES agencies (id),
    fields TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_by TEXT,
    updated_at TIMESTAMP NOT NULL
);

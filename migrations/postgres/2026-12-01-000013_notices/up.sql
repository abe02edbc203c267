-- Notices (告知书, issue 13): drafted from the case, checked, approved and issued. The fields
-- of the act the notice performs and the office's own paragraphs are JSON documents; once
-- issued, the number, the frozen text and its SHA-256 are kept.
CREATE TABLE notices (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id),
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    fields TEXT NOT NULL,
    paragraphs TEXT NOT NULL,
    approvals TEXT NOT NULL,
    -- Service attempts (送达), a JSON array.
    service TEXT NOT NULL DEFAULT '[]',
    number TEXT,
    issued_on DATE,
    issued_text TEXT,
    text_sha256 TEXT,
    version INTEGER NOT NULL,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX notices_request ON notices (request_id, created_at);

-- Document numbers (发文字号): gapless per agency, year and pattern. Taken in the issuing
-- transaction, so a rolled-back issue gives its number back.
CREATE TABLE document_numbers (
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    year INTEGER NOT NULL,
    pattern TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (agency_id, year, pattern)
);

-- Which notice types need approval before issue, per agency (inherited down the tree; without
-- one anywhere above, the defaults: reply, extension, delayed_reply, fee, objection_override).
CREATE TABLE notice_settings (
    agency_id TEXT PRIMARY KEY REFERENCES agencies (id),
    approval_required TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_by TEXT,
    updated_at TIMESTAMP NOT NULL
);

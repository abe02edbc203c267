-- Agencies form a tree; `path` ('/root-id/…/own-id/') makes "this agency and everything below"
-- one indexed prefix match.
CREATE TABLE agencies (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    parent_id TEXT REFERENCES agencies(id),
    region TEXT,
    path TEXT NOT NULL UNIQUE,
    depth INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX agencies_parent_id ON agencies(parent_id);
CREATE INDEX agencies_path_prefix ON agencies(path text_pattern_ops);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    -- comma-separated role codes, sorted: admin,approver,clerk,supervisor
    roles TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    -- bumped when a user is disabled or changes password: older tokens stop working
    token_generation INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_agency_id ON users(agency_id);

-- Append-only record of administrative changes (users, agencies, calendars, logins).
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_user_id TEXT,
    actor_label TEXT NOT NULL,
    agency_id TEXT,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX audit_log_entity ON audit_log(entity_type, entity_id, occurred_at);

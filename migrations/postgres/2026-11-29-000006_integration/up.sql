-- System clients (provincial platforms and other systems): OAuth2 client credentials. The
-- secret is stored as an Argon2 hash and shown once; `token_generation` is bumped when the
-- client is disabled or its secret rotated, and older tokens stop working.
CREATE TABLE api_clients (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    -- comma-separated scope codes, sorted
    scopes TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    token_generation INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX api_clients_agency ON api_clients(agency_id);

-- The change feed (docs/FEED.md). A writer inserts its events with `seq` NULL and takes no
-- lock; `write_no` orders them as written. A short "numbering round" (any process, before
-- reading the feed or sending webhooks) locks feed_state's row and gives the committed
-- unnumbered events the next numbers in write order. Numbers thus appear in the order events
-- became visible, without gaps, and a cursor over `seq` never skips or repeats.
CREATE TABLE feed_state (
    id INTEGER PRIMARY KEY NOT NULL,
    last_seq BIGINT NOT NULL
);
INSERT INTO feed_state (id, last_seq) VALUES (1, 0);

CREATE TABLE feed_events (
    write_no BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    seq BIGINT UNIQUE,
    occurred_at TIMESTAMP NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    -- application, review, litigation, report
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    -- the application an event belongs to, when there is one (webhook ordering key)
    request_id TEXT,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX feed_events_unnumbered ON feed_events(write_no) WHERE seq IS NULL;
CREATE INDEX feed_events_agency ON feed_events(agency_id, seq);

-- Webhook subscriptions of an agency's subtree. The secret signs deliveries (HMAC-SHA256), so
-- it is kept as given; `event_types` is a comma-separated list, or '*' for every type.
CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    event_types TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    version INTEGER NOT NULL DEFAULT 1,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_subscriptions_agency ON webhook_subscriptions(agency_id);

-- The outbox: one row per (subscription, event), written in the event's transaction.
-- status: pending, delivered, failed (gave up after the last attempt).
CREATE TABLE webhook_outbox (
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id),
    event_id TEXT NOT NULL REFERENCES feed_events(id),
    ordering_key TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    last_error TEXT,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (subscription_id, event_id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(status, next_attempt_at);
CREATE INDEX webhook_outbox_order ON webhook_outbox(subscription_id, ordering_key, status);

-- Every delivery attempt, successful or not.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id),
    event_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    succeeded BOOLEAN NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries(subscription_id, attempted_at);

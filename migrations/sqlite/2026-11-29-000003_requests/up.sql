-- Applications. Columns that lists filter, sort or count on are real columns of this narrow
-- table; the rest of the legal record (clock facts, correction, consultations, fee, reply: the
-- JSON `workflow`) and the intake details (JSON `details`) live in request_documents, so scans
-- and counts over many applications read small rows.
CREATE TABLE requests (
    id TEXT PRIMARY KEY NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    case_number TEXT NOT NULL UNIQUE,
    case_year INTEGER NOT NULL,
    case_seq INTEGER NOT NULL,
    query_code TEXT NOT NULL,
    channel TEXT NOT NULL,
    arrived_at TIMESTAMP NOT NULL,
    arrival_date DATE NOT NULL,
    signed_for_on DATE,
    confirmed_on DATE,
    applicant_kind TEXT NOT NULL,
    applicant_name TEXT NOT NULL,
    -- identity number or credit code, normalised: recognises the same applicant (fees per piece)
    applicant_key TEXT,
    description TEXT NOT NULL,
    external_reference TEXT,
    state TEXT NOT NULL,
    receipt_date DATE,
    due_date DATE,
    due_provisional BOOLEAN NOT NULL DEFAULT 0,
    disposition TEXT,
    closed_on DATE,
    -- the fee facts section 六 of the yearly report sums (amounts in fen)
    fee_notice_on DATE,
    fee_amount_fen BIGINT,
    fee_paid_on DATE,
    fee_paid_fen BIGINT,
    late BOOLEAN NOT NULL DEFAULT 0,
    version INTEGER NOT NULL,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (agency_id, case_year, case_seq)
);
CREATE UNIQUE INDEX requests_external_reference ON requests(agency_id, external_reference);
CREATE INDEX requests_agency_state ON requests(agency_id, state, due_date);
CREATE INDEX requests_agency_receipt ON requests(agency_id, receipt_date);
CREATE INDEX requests_agency_closed ON requests(agency_id, closed_on);
CREATE INDEX requests_agency_created ON requests(agency_id, created_at);
CREATE INDEX requests_applicant_month ON requests(applicant_key, receipt_date);
-- Sort orders of the list across many agencies (a supervisor's or a root admin's scope).
CREATE INDEX requests_created ON requests(created_at, id);
CREATE INDEX requests_received ON requests(receipt_date, id);
CREATE INDEX requests_due ON requests(due_date, id);

-- The documents of an application, one row each, written with it.
CREATE TABLE request_documents (
    request_id TEXT PRIMARY KEY NOT NULL REFERENCES requests(id),
    details TEXT NOT NULL,
    workflow TEXT NOT NULL
);

-- The audit trail of each application: append-only, one row per step.
CREATE TABLE request_events (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests(id),
    seq INTEGER NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_user_id TEXT,
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    on_date DATE,
    state_before TEXT,
    state_after TEXT NOT NULL,
    payload TEXT NOT NULL,
    http_request_id TEXT,
    UNIQUE (request_id, seq)
);

-- Gapless case numbers: one counter per agency and year, bumped in the transaction that
-- creates the application (a rollback gives the number back).
CREATE TABLE case_counters (
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    year INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (agency_id, year)
);

-- Idempotent intake: the first answer to a key, replayed for a retry with the same body.
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);

-- Fixed-window rate limits shared by every process (public status look-ups).
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

-- Work inside the office (issue 16): departments, who holds an open application now and who
-- handed it over, internal consultations (协办), the flags raised on an application, and the
-- reminders sent to holders.

-- 业务处室: an agency's departments. A user belongs to at most one.
CREATE TABLE departments (
    id TEXT PRIMARY KEY,
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (agency_id, name)
);
ALTER TABLE users ADD COLUMN department_id TEXT REFERENCES departments (id);
-- Where reminders go (optional).
ALTER TABLE users ADD COLUMN email TEXT;
CREATE INDEX users_department ON users (department_id);

-- The holder: a user, a department, or a department's user (claimed). A department without a
-- user is a hand-over not yet claimed (签收). The sender is the holder before the last
-- hand-over: a return (退回) gives the application back to it.
ALTER TABLE requests ADD COLUMN holder_user_id TEXT;
ALTER TABLE requests ADD COLUMN holder_department_id TEXT;
ALTER TABLE requests ADD COLUMN holder_since TIMESTAMP;
ALTER TABLE requests ADD COLUMN sender_user_id TEXT;
ALTER TABLE requests ADD COLUMN sender_department_id TEXT;
CREATE INDEX requests_holder_user ON requests (holder_user_id) WHERE state <> 'closed';
CREATE INDEX requests_holder_department ON requests (holder_department_id) WHERE state <> 'closed';

-- 协办: another department contributes while the holder keeps the application.
CREATE TABLE internal_consultations (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id),
    department_id TEXT NOT NULL REFERENCES departments (id),
    question TEXT NOT NULL,
    asked_by TEXT,
    asked_at TIMESTAMP NOT NULL,
    answer TEXT,
    answered_by TEXT,
    answered_at TIMESTAMP
);
CREATE INDEX internal_consultations_request ON internal_consultations (request_id);
CREATE INDEX internal_consultations_open ON internal_consultations (department_id)
    WHERE answer IS NULL;

-- Warnings raised on an application by its own steps (never refusals). `explanation` is JSON
-- (zh, en, and the figures it rests on); `related` a JSON array of application ids.
CREATE TABLE request_flags (
    request_id TEXT NOT NULL REFERENCES requests (id),
    code TEXT NOT NULL,
    explanation TEXT NOT NULL,
    related TEXT NOT NULL,
    raised_at TIMESTAMP NOT NULL,
    PRIMARY KEY (request_id, code)
);
CREATE INDEX request_flags_code ON request_flags (code, request_id);
-- possible_repeat and high_volume_applicant look at one applicant's latest applications to an
-- agency at every intake: newest first from the index, however many there are.
CREATE INDEX requests_agency_applicant_arrival ON requests (agency_id, applicant_key, arrival_date);

-- Reminders to holders: one row per (application, kind, occasion), so each is sent once
-- whichever process finds it first; a lease keeps two processes from sending one together.
CREATE TABLE reminders (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id),
    -- due_soon, window_ending, unclaimed
    kind TEXT NOT NULL,
    -- what the reminder is about (a date, a hand-over instant): a new occasion, a new reminder
    occasion TEXT NOT NULL,
    agency_id TEXT NOT NULL,
    holder_user_id TEXT,
    holder_department_id TEXT,
    -- JSON array of addresses (empty: nobody to mail; the feed still carries it)
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- pending, sent, no_recipient, mail_off, failed
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    sent_at TIMESTAMP,
    last_error TEXT,
    UNIQUE (request_id, kind, occasion)
);
CREATE INDEX reminders_pending ON reminders (next_attempt_at) WHERE status = 'pending';

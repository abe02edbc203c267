-- The entered parts of a yearly report (table 二 and the narrative), per agency and year.
CREATE TABLE report_drafts (
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    year INTEGER NOT NULL,
    proactive TEXT NOT NULL,
    narrative TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT,
    PRIMARY KEY (agency_id, year)
);

-- Published versions: a frozen snapshot of the whole report. A version is reopened (with a
-- reason) before figures of that year may change again; a new publication is a new version.
CREATE TABLE report_versions (
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    year INTEGER NOT NULL,
    version INTEGER NOT NULL,
    snapshot TEXT NOT NULL,
    published_at TIMESTAMP NOT NULL,
    published_by TEXT NOT NULL,
    reopened_at TIMESTAMP,
    reopened_by TEXT,
    reopen_reason TEXT,
    PRIMARY KEY (agency_id, year, version)
);

-- The report's one pass over an agency's applications reads only this index (index-only scan).
CREATE INDEX requests_report ON requests(agency_id, receipt_date) INCLUDE (applicant_kind, disposition, closed_on);
CREATE INDEX requests_fees ON requests(agency_id, fee_notice_on) WHERE fee_notice_on IS NOT NULL;

-- Lists across the whole tree: open applications by due date (overdue, due soon), closed ones by
-- disposition. Partial, so they stay small.
CREATE INDEX requests_open_due ON requests(due_date) WHERE state <> 'closed';
CREATE INDEX requests_disposition_closed ON requests(disposition, closed_on) INCLUDE (agency_id, late, applicant_kind, channel, receipt_date) WHERE disposition IS NOT NULL;
CREATE INDEX requests_state_due ON requests(state, due_date);

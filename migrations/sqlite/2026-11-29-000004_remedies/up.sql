-- Administrative review (kind = 'review') and litigation (kind = 'litigation') cases in which
-- the agency is respondent or defendant.
CREATE TABLE remedy_cases (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies(id),
    request_id TEXT REFERENCES requests(id),
    applicant_name TEXT NOT NULL,
    -- reviewing body (复议机关) or court (法院)
    body_name TEXT NOT NULL,
    filed_on DATE NOT NULL,
    received_on DATE,
    act_known_on DATE,
    route TEXT,
    review_id TEXT REFERENCES remedy_cases(id),
    instance TEXT,
    decision_type TEXT,
    decided_on DATE,
    -- derived from decision_type: upheld, corrected, other, pending
    outcome TEXT NOT NULL,
    notes TEXT,
    filing_deadline DATE,
    filing_rule TEXT,
    filed_late BOOLEAN NOT NULL DEFAULT 0,
    version INTEGER NOT NULL,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX remedy_cases_agency ON remedy_cases(agency_id, kind, filed_on);
CREATE INDEX remedy_cases_request ON remedy_cases(request_id);

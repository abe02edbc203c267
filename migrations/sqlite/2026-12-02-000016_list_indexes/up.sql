-- See the PostgreSQL migration: an agency's list by case number, and its open applications
-- by creation (partial: open ones only).
CREATE INDEX requests_agency_case_number ON requests (agency_id, case_number);
CREATE INDEX requests_agency_open ON requests (agency_id, created_at, due_date)
    WHERE state <> 'closed';

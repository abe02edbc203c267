-- Lists of one agency that no index served, measured over 1,000,000 seeded applications
-- (bench/lists.sh, README): sorted by case number (the global case-number index was walked
-- past other agencies' rows: 2.6 s, now 0.5 ms), and the open ones (overdue, by state other
-- than closed) sorted by creation (the global creation index was walked past closed rows:
-- 0.87 s, now 4.6 ms). The second is partial: only open applications, a small share of the
-- history, so it stays small and a reply removes the row from it.
CREATE INDEX requests_agency_case_number ON requests (agency_id, case_number);
CREATE INDEX requests_agency_open ON requests (agency_id, created_at) INCLUDE (due_date)
    WHERE state <> 'closed';

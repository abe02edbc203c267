-- Two list filters that walked the sort's index over every row on SQLite (bench/lists.sh over
-- 1,000,000 applications, README):
-- * `external_reference` across agencies: the unique index leads with the agency, so the
--   plan was `SCAN requests USING INDEX requests_created` (7.7 s). Partial: only forwarded
--   applications carry a reference, so the index stays the size of those.
-- * `agency_id` with the sort by due date: `requests_agency_state` puts the state between the
--   agency and the date, so the sort walked `requests_due` past other agencies' rows.
-- PostgreSQL has the first (its migration of this name) but not the second: it answered an
-- agency's sort by due date in 5.8/51 ms p50/p99 over a million by a bitmap of the agency and a
-- top-N sort, and keeps its intake free of a further index.
CREATE INDEX requests_external_reference_any ON requests (external_reference)
    WHERE external_reference IS NOT NULL;
CREATE INDEX requests_agency_due ON requests (agency_id, due_date, id);

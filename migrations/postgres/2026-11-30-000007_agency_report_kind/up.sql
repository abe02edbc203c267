-- Which publication deadline of art. 49 applies: department (31 January) or government (31 March).
ALTER TABLE agencies ADD COLUMN report_kind TEXT NOT NULL DEFAULT 'department';

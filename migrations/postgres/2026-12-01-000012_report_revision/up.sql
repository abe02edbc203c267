-- The report draft's revision (its ETag): bumped by every write of the report (table 二, the
-- narrative, publish, reopen), so that each write can require If-Match.
ALTER TABLE report_drafts ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

ALTER TABLE report_drafts DROP COLUMN revision;

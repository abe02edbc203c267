DROP TABLE report_versions;
DROP TABLE report_drafts;

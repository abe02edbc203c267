DROP INDEX requests_fees;
DROP INDEX requests_report;
DROP TABLE report_versions;
DROP TABLE report_drafts;

DROP INDEX requests_state_due;
DROP INDEX requests_disposition_closed;
DROP INDEX requests_open_due;
DROP INDEX requests_fees;
DROP INDEX requests_report;
DROP TABLE report_versions;
DROP TABLE report_drafts;

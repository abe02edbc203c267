ALTER TABLE agencies DROP COLUMN report_kind;

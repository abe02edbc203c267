DROP TRIGGER principals_agency_added;
DROP TRIGGER principals_agency_changed;
CREATE TRIGGER principals_agency_changed
AFTER UPDATE OF parent_id, path ON agencies
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
END;
ALTER TABLE requests DROP COLUMN acts_without_notice;

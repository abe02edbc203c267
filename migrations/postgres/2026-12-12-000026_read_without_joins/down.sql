DROP TRIGGER principals_agency_changed ON agencies;
CREATE TRIGGER principals_agency_changed
AFTER UPDATE OF parent_id, path OR DELETE ON agencies
FOR EACH STATEMENT EXECUTE FUNCTION gongkai_principals_changed();
ALTER TABLE requests DROP COLUMN acts_without_notice;

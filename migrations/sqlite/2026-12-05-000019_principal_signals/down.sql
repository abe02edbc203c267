DROP TRIGGER principals_agency_removed;
DROP TRIGGER principals_agency_changed;
DROP TRIGGER principals_client_removed;
DROP TRIGGER principals_client_changed;
DROP TRIGGER principals_user_removed;
DROP TRIGGER principals_user_changed;
DROP TABLE change_signals;

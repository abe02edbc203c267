DROP TRIGGER principals_agency_changed ON agencies;
DROP TRIGGER principals_client_changed ON api_clients;
DROP TRIGGER principals_user_changed ON users;
DROP FUNCTION gongkai_principals_changed();
DROP TABLE change_signals;

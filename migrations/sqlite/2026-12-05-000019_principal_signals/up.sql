-- Each process keeps who a token names (user or system client, its roles, its agency and the
-- agency's place in the tree) in memory, so that an authenticated request does not read it
-- again (issue 15). Every change that could refuse or alter such an actor moves this revision
-- in its own transaction, by trigger, whoever makes it (the service, the CLI, a hand-written
-- UPDATE); each process watches the revision and empties its cache when it moves.
CREATE TABLE change_signals (
    name TEXT PRIMARY KEY NOT NULL,
    revision BIGINT NOT NULL
);
INSERT INTO change_signals (name, revision) VALUES ('principals', 0);

CREATE TRIGGER principals_user_changed
AFTER UPDATE OF agency_id, username, roles, disabled, token_generation ON users
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
END;
CREATE TRIGGER principals_user_removed AFTER DELETE ON users
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
END;
CREATE TRIGGER principals_client_changed
AFTER UPDATE OF agency_id, name, scopes, disabled, token_generation ON api_clients
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
END;
CREATE TRIGGER principals_client_removed AFTER DELETE ON api_clients
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
END;
CREATE TRIGGER principals_agency_changed
AFTER UPDATE OF parent_id, path ON agencies
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
END;
CREATE TRIGGER principals_agency_removed AFTER DELETE ON agencies
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
END;

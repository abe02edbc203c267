-- Each process keeps who a token names (user or system client, its roles, its agency and the
-- agency's place in the tree) in memory, so that an authenticated request does not read it
-- again (issue 15). Every change that could refuse or alter such an actor notifies the channel
-- `gongkai_principals` when its transaction commits, by trigger, whoever makes it (the service,
-- the CLI, a hand-written UPDATE); each process listens and empties its cache on a notice.
-- The revision row is kept too (moved by the same triggers): one place to read whether
-- anything changed, for tools and for a process that lost its listening connection.
CREATE TABLE change_signals (
    name TEXT PRIMARY KEY NOT NULL,
    revision BIGINT NOT NULL
);
INSERT INTO change_signals (name, revision) VALUES ('principals', 0);

CREATE FUNCTION gongkai_principals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE change_signals SET revision = revision + 1 WHERE name = 'principals';
    PERFORM pg_notify('gongkai_principals', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER principals_user_changed
AFTER UPDATE OF agency_id, username, roles, disabled, token_generation OR DELETE ON users
FOR EACH STATEMENT EXECUTE FUNCTION gongkai_principals_changed();
CREATE TRIGGER principals_client_changed
AFTER UPDATE OF agency_id, name, scopes, disabled, token_generation OR DELETE ON api_clients
FOR EACH STATEMENT EXECUTE FUNCTION gongkai_principals_changed();
CREATE TRIGGER principals_agency_changed
AFTER UPDATE OF parent_id, path OR DELETE ON agencies
FOR EACH STATEMENT EXECUTE FUNCTION gongkai_principals_changed();

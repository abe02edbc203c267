-- Secrets the service generates for itself and keeps with its data (issue 17): the HS256 key
-- for access tokens when no `auth.jwt_secret` is configured. Every process on this database
-- signs and verifies with the same key; nothing published in the repository can sign a token.
CREATE TABLE service_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

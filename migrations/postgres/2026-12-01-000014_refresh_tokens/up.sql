-- Refresh tokens of the password grant (issue 14). A family is one login: every refresh token
-- rotated out of it belongs to it, and revoking it (logout, reuse of a used-up token, the
-- user's password change or disabling) ends every token of it at once, including any a
-- concurrent rotation is about to add. Tokens are kept only as the SHA-256 of their 256 random
-- bits; a token is used up (`used_at`) by one conditional UPDATE, so two uses of it can give at
-- most one new token.
CREATE TABLE refresh_families (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    -- The absolute end of the login (auth.refresh_family_ttl_secs after it).
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    -- logout, reuse, password_changed, user_disabled
    revoked_reason TEXT
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);
CREATE INDEX refresh_families_expiry ON refresh_families (expires_at);

CREATE TABLE refresh_tokens (
    -- Hex SHA-256 of the token; the token itself is never stored.
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

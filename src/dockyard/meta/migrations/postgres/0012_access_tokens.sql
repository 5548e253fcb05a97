-- depends: 0008_revocations
-- Access tokens, as sqlite/0012_access_tokens.sql: the SHA-256 of each secret, never the secret. `owner` is
-- the user a personal token acts for, '' for a robot token; names are unique per owner.
CREATE TABLE access_tokens (
    token_id     TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL UNIQUE,
    owner        TEXT NOT NULL,
    name         TEXT NOT NULL,
    repositories TEXT NOT NULL,
    actions      TEXT NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   DOUBLE PRECISION,
    last_used_at DOUBLE PRECISION,
    UNIQUE (owner, name)
);

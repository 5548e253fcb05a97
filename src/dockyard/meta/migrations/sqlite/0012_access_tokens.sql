-- depends: 0008_revocations
-- Access tokens (meta/access_tokens.py): the SHA-256 of each secret, never the secret. `owner` is
-- the user a personal token acts for, '' for a robot token; names are unique per owner.
CREATE TABLE access_tokens (
    token_id     TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL UNIQUE,
    owner        TEXT NOT NULL,
    name         TEXT NOT NULL,
    repositories TEXT NOT NULL,
    actions      TEXT NOT NULL,
    created_at   REAL NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   REAL,
    last_used_at REAL,
    UNIQUE (owner, name)
);

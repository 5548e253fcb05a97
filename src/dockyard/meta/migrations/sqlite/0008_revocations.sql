-- depends: 0007_upload_owners
-- Revocations (meta/revocations.py): a credential version per subject, bumped to end every session
-- and refresh token issued before; and revoked tokens (logged-out sessions), each kept until it
-- would have expired anyway.
CREATE TABLE credential_versions (
    subject    TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    updated_at REAL NOT NULL
);

CREATE TABLE revoked_tokens (
    token_id   TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);

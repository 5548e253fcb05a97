-- depends: 0007_upload_owners
-- Revocations, as sqlite/0007_revocations.sql: a credential version per subject, and revoked tokens
-- until they would have expired anyway.
CREATE TABLE credential_versions (
    subject    TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE revoked_tokens (
    token_id   TEXT PRIMARY KEY,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);

-- depends: 0010_replication_uploads
-- Users an identity provider vouched for, as sqlite/0011_provider_users.sql: their groups at the last
-- login, a JSON array of strings.
CREATE TABLE provider_users (
    name         TEXT PRIMARY KEY,
    groups       TEXT NOT NULL,
    logged_in_at DOUBLE PRECISION NOT NULL
);

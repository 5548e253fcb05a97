-- depends: 0010_replication_uploads
-- Users an identity provider vouched for (meta/provider_users.py): their groups at the last login,
-- a JSON array of strings.
CREATE TABLE provider_users (
    name         TEXT PRIMARY KEY,
    groups       TEXT NOT NULL,
    logged_in_at REAL NOT NULL
);

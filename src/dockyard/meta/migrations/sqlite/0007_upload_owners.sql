-- Who opened each upload session (NULL: anonymous, or authentication off), and the indexes by which
-- the sessions open in a repository and those of one user are counted against their limits.
-- depends: 0006_replication

ALTER TABLE uploads ADD COLUMN owner TEXT;
CREATE INDEX uploads_by_repository ON uploads (repository);
CREATE INDEX uploads_by_owner ON uploads (owner) WHERE owner IS NOT NULL;

-- depends: 0009_cache
-- Uploads of large blobs a push rule has under way on its target: the upload URL the target gave,
-- kept until the blob is complete, so that the rule's next run in any process resumes the upload.
CREATE TABLE replication_uploads (
    rule       TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    location   TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (rule, repository, digest)
);
CREATE INDEX replication_uploads_by_age ON replication_uploads (updated_at);

-- The pull-through cache (docs/proxy.md). Cached manifests, tags and blobs are ordinary rows of
-- their cache repositories; these tables add what only a cache needs.
-- depends: 0008_revocations

-- Content of a cache repository (a manifest or a blob) kept for as long as it is pulled, with the
-- last time it was. Garbage collection leaves held content alone; eviction deletes the holds (and
-- cached tags) not pulled for `keep_days`, and the trigger below queues the reviews that free them.
CREATE TABLE cache_holds (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT NOT NULL,
    pulled_at     REAL NOT NULL,
    PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;
CREATE INDEX cache_holds_by_digest ON cache_holds (digest);

-- When a cached tag was last confirmed upstream: fresh for `tag_ttl_seconds`, served stale within
-- `max_stale_seconds` while upstream fails. Goes with its tag.
CREATE TABLE cache_tag_checks (
    repository_id INTEGER NOT NULL,
    name          TEXT NOT NULL,
    checked_at    REAL NOT NULL,
    PRIMARY KEY (repository_id, name),
    FOREIGN KEY (repository_id, name) REFERENCES tags (repository_id, name) ON DELETE CASCADE
) WITHOUT ROWID;

-- Downloads from upstream in progress, one per missed manifest or blob across every process and
-- instance: the owner renews its lease while it works; the others follow the upload it writes to,
-- and take over once the lease has run out.
CREATE TABLE cache_fills (
    key        TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    upload_id  TEXT NOT NULL,
    size       INTEGER,
    expires_at REAL NOT NULL
) WITHOUT ROWID;

-- A released hold may free its manifest or its blob (whichever the digest is: the other review
-- finds nothing to do).
CREATE TRIGGER gc_hold_released AFTER DELETE ON cache_holds BEGIN
    INSERT INTO gc_manifest_reviews VALUES (OLD.repository_id, OLD.digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (repository_id, digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
    INSERT INTO gc_blob_reviews VALUES (OLD.digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

-- Garbage collection. Every write that can leave something unreferenced enqueues a review of
-- it here, in the writer's own transaction, through triggers: the store's write methods need
-- not know about GC. A review is due `gc.review_delay_seconds` after `enqueued_at`; a new event
-- on a queued object pushes its review back (upsert), so no event is ever lost to a dequeue.
-- depends: 0001_initial

-- The digest an upload session is about to make visible, set before its bytes are renamed
-- into place: GC never deletes a blob an open session has claimed. Ends with the session.
CREATE TABLE gc_upload_claims (
    upload_id TEXT PRIMARY KEY REFERENCES uploads (id) ON DELETE CASCADE,
    digest    TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX gc_upload_claims_by_digest ON gc_upload_claims (digest);

CREATE TABLE gc_manifest_reviews (
    repository_id INTEGER NOT NULL,
    digest        TEXT NOT NULL,
    enqueued_at   REAL NOT NULL,
    PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;
CREATE INDEX gc_manifest_reviews_by_age ON gc_manifest_reviews (enqueued_at);

CREATE TABLE gc_blob_reviews (
    digest      TEXT PRIMARY KEY,
    enqueued_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX gc_blob_reviews_by_age ON gc_blob_reviews (enqueued_at);

-- Blobs whose metadata is gone and whose bytes are (about to be) deleted from the blob store.
-- A row stays until the bytes are gone; an upload of the same digest waits for it to go.
CREATE TABLE gc_blob_deletions (
    digest          TEXT PRIMARY KEY,
    size            INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX gc_blob_deletions_by_time ON gc_blob_deletions (next_attempt_at);

CREATE TRIGGER gc_blob_inserted AFTER INSERT ON blobs BEGIN
    INSERT INTO gc_blob_reviews VALUES (NEW.digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

CREATE TRIGGER gc_blob_linked AFTER INSERT ON repository_blobs BEGIN
    INSERT INTO gc_blob_reviews VALUES (NEW.digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

CREATE TRIGGER gc_blob_unlinked AFTER DELETE ON repository_blobs BEGIN
    INSERT INTO gc_blob_reviews VALUES (OLD.digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

CREATE TRIGGER gc_blob_unreferenced AFTER DELETE ON manifest_blobs BEGIN
    INSERT INTO gc_blob_reviews VALUES (OLD.blob_digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

-- A manifest pushed by digest alone may never be tagged.
CREATE TRIGGER gc_manifest_inserted AFTER INSERT ON manifests BEGIN
    INSERT INTO gc_manifest_reviews VALUES (NEW.repository_id, NEW.digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (repository_id, digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

CREATE TRIGGER gc_tag_deleted AFTER DELETE ON tags BEGIN
    INSERT INTO gc_manifest_reviews VALUES (OLD.repository_id, OLD.digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (repository_id, digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

CREATE TRIGGER gc_tag_moved AFTER UPDATE OF digest ON tags WHEN OLD.digest <> NEW.digest BEGIN
    INSERT INTO gc_manifest_reviews VALUES (OLD.repository_id, OLD.digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (repository_id, digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

CREATE TRIGGER gc_child_released AFTER DELETE ON manifest_children BEGIN
    INSERT INTO gc_manifest_reviews
        VALUES (OLD.repository_id, OLD.child_digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (repository_id, digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

CREATE TRIGGER gc_subject_deleted AFTER DELETE ON manifests BEGIN
    INSERT INTO gc_manifest_reviews
        SELECT repository_id, digest, (julianday('now') - 2440587.5) * 86400.0 FROM manifests
        WHERE repository_id = OLD.repository_id AND subject = OLD.digest
    ON CONFLICT (repository_id, digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

-- An upload that claimed a digest and then ended (cancelled, purged) no longer holds its blob.
CREATE TRIGGER gc_claim_released AFTER DELETE ON gc_upload_claims BEGIN
    INSERT INTO gc_blob_reviews VALUES (OLD.digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
END;

-- When each tag was last pulled, for retention rules; written in batches, not per pull.
CREATE TABLE tag_pulls (
    repository_id INTEGER NOT NULL,
    name          TEXT NOT NULL,
    pulled_at     REAL NOT NULL,
    PRIMARY KEY (repository_id, name)
) WITHOUT ROWID;

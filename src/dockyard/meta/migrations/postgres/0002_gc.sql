-- Garbage collection, as sqlite/0002_gc.sql: review queues filled by triggers in the writer's
-- own transaction, pending byte deletions, and the digests open upload sessions are about to
-- make visible. A new event on a queued object pushes its review back (upsert), so no event is
-- lost to a concurrent dequeue.
-- depends: 0001_initial

CREATE TABLE gc_upload_claims (
    upload_id TEXT COLLATE "C" PRIMARY KEY REFERENCES uploads (id) ON DELETE CASCADE,
    digest    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX gc_upload_claims_by_digest ON gc_upload_claims (digest);

CREATE TABLE gc_manifest_reviews (
    repository_id BIGINT NOT NULL,
    digest        TEXT COLLATE "C" NOT NULL,
    enqueued_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX gc_manifest_reviews_by_age ON gc_manifest_reviews (enqueued_at);

CREATE TABLE gc_blob_reviews (
    digest      TEXT COLLATE "C" PRIMARY KEY,
    enqueued_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX gc_blob_reviews_by_age ON gc_blob_reviews (enqueued_at);

CREATE TABLE gc_blob_deletions (
    digest          TEXT COLLATE "C" PRIMARY KEY,
    size            BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX gc_blob_deletions_by_time ON gc_blob_deletions (next_attempt_at);

CREATE FUNCTION gc_review_blob(blob TEXT) RETURNS void LANGUAGE sql AS $$
    INSERT INTO gc_blob_reviews VALUES (blob, extract(epoch FROM clock_timestamp()))
    ON CONFLICT (digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
$$;

CREATE FUNCTION gc_review_manifest(repository BIGINT, manifest TEXT) RETURNS void LANGUAGE sql AS $$
    INSERT INTO gc_manifest_reviews VALUES (repository, manifest, extract(epoch FROM clock_timestamp()))
    ON CONFLICT (repository_id, digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
$$;

CREATE FUNCTION gc_blob_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gc_review_blob(NEW.digest);
    RETURN NULL;
END $$;
CREATE TRIGGER gc_blob_inserted AFTER INSERT ON blobs FOR EACH ROW EXECUTE FUNCTION gc_blob_inserted();
CREATE TRIGGER gc_blob_linked AFTER INSERT ON repository_blobs FOR EACH ROW EXECUTE FUNCTION gc_blob_inserted();

CREATE FUNCTION gc_blob_unlinked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gc_review_blob(OLD.digest);
    RETURN NULL;
END $$;
CREATE TRIGGER gc_blob_unlinked AFTER DELETE ON repository_blobs FOR EACH ROW EXECUTE FUNCTION gc_blob_unlinked();

CREATE FUNCTION gc_blob_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gc_review_blob(OLD.blob_digest);
    RETURN NULL;
END $$;
CREATE TRIGGER gc_blob_unreferenced AFTER DELETE ON manifest_blobs
    FOR EACH ROW EXECUTE FUNCTION gc_blob_unreferenced();

-- A manifest pushed by digest alone may never be tagged.
CREATE FUNCTION gc_manifest_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gc_review_manifest(NEW.repository_id, NEW.digest);
    RETURN NULL;
END $$;
CREATE TRIGGER gc_manifest_inserted AFTER INSERT ON manifests FOR EACH ROW EXECUTE FUNCTION gc_manifest_inserted();

CREATE FUNCTION gc_tag_released() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.digest <> NEW.digest THEN
        PERFORM gc_review_manifest(OLD.repository_id, OLD.digest);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER gc_tag_released AFTER UPDATE OR DELETE ON tags FOR EACH ROW EXECUTE FUNCTION gc_tag_released();

CREATE FUNCTION gc_child_released() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gc_review_manifest(OLD.repository_id, OLD.child_digest);
    RETURN NULL;
END $$;
CREATE TRIGGER gc_child_released AFTER DELETE ON manifest_children FOR EACH ROW EXECUTE FUNCTION gc_child_released();

CREATE FUNCTION gc_subject_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO gc_manifest_reviews
        SELECT repository_id, digest, extract(epoch FROM clock_timestamp()) FROM manifests
        WHERE repository_id = OLD.repository_id AND subject = OLD.digest
    ON CONFLICT (repository_id, digest) DO UPDATE SET enqueued_at = excluded.enqueued_at;
    RETURN NULL;
END $$;
CREATE TRIGGER gc_subject_deleted AFTER DELETE ON manifests FOR EACH ROW EXECUTE FUNCTION gc_subject_deleted();

-- An upload that claimed a digest and then ended (cancelled, purged) no longer holds its blob.
CREATE TRIGGER gc_claim_released AFTER DELETE ON gc_upload_claims FOR EACH ROW EXECUTE FUNCTION gc_blob_unlinked();

-- When each tag was last pulled, for retention rules; written in batches, not per pull.
CREATE TABLE tag_pulls (
    repository_id BIGINT NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    pulled_at     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (repository_id, name)
);

-- A blob stored or linked into a repository keeps the review it has queued already instead of
-- moving it: every push of a shared base layer moved one row per digest, so concurrent pushes on
-- several connections took turns on it (and retried, SERIALIZABLE). An earlier review is safe: it
-- re-checks in its own transaction and, finding a link or the blob younger than its cutoff, queues
-- itself again for when they are not. Releases (unlink, unreference) still move the review, so that
-- what they free is looked at a whole delay after the release.
-- depends: 0014_tag_counts

CREATE FUNCTION gc_review_new_blob(blob TEXT) RETURNS void LANGUAGE sql AS $$
    INSERT INTO gc_blob_reviews VALUES (blob, extract(epoch FROM clock_timestamp()))
    ON CONFLICT (digest) DO NOTHING;
$$;

CREATE OR REPLACE FUNCTION gc_blob_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gc_review_new_blob(NEW.digest);
    RETURN NULL;
END $$;

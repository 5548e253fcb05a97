-- A blob stored or linked into a repository keeps the review it has queued already instead of
-- moving it, as postgres/0015_link_reviews.sql (where concurrent pushes of a shared layer took
-- turns on that row). An earlier review is safe: it re-checks in its own transaction and, finding
-- a link or the blob younger than its cutoff, queues itself again for when they are not.
-- depends: 0014_tag_counts

DROP TRIGGER gc_blob_inserted;
CREATE TRIGGER gc_blob_inserted AFTER INSERT ON blobs BEGIN
    INSERT INTO gc_blob_reviews VALUES (NEW.digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (digest) DO NOTHING;
END;

DROP TRIGGER gc_blob_linked;
CREATE TRIGGER gc_blob_linked AFTER INSERT ON repository_blobs BEGIN
    INSERT INTO gc_blob_reviews VALUES (NEW.digest, (julianday('now') - 2440587.5) * 86400.0)
    ON CONFLICT (digest) DO NOTHING;
END;

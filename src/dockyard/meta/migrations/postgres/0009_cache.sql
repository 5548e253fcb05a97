-- The pull-through cache, as sqlite/0006_cache.sql: holds on cached content with its last pull,
-- when cached tags were last confirmed upstream, and the leases of fills in progress.
-- depends: 0008_revocations

CREATE TABLE cache_holds (
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT COLLATE "C" NOT NULL,
    pulled_at     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX cache_holds_by_digest ON cache_holds (digest);

CREATE TABLE cache_tag_checks (
    repository_id BIGINT NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    checked_at    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (repository_id, name),
    FOREIGN KEY (repository_id, name) REFERENCES tags (repository_id, name) ON DELETE CASCADE
);

CREATE TABLE cache_fills (
    key        TEXT COLLATE "C" PRIMARY KEY,
    owner      TEXT NOT NULL,
    upload_id  TEXT NOT NULL,
    size       BIGINT,
    expires_at DOUBLE PRECISION NOT NULL
);

CREATE FUNCTION gc_hold_released() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM gc_review_manifest(OLD.repository_id, OLD.digest);
    PERFORM gc_review_blob(OLD.digest);
    RETURN NULL;
END $$;
CREATE TRIGGER gc_hold_released AFTER DELETE ON cache_holds FOR EACH ROW EXECUTE FUNCTION gc_hold_released();

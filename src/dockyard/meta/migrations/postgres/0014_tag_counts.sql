-- Each repository's tag count on its row, as sqlite/0014_tag_counts.sql (a tag push already
-- updates its repository's row for pushed_at: no new row is locked). The tags on one manifest
-- are listed by name: the index carries the name, so that a manifest with a million tags is not
-- sorted whole for its first hundred (SQLite's index has it already, as the key of the table).
-- depends: 0013_audit

ALTER TABLE repositories ADD COLUMN tag_count BIGINT NOT NULL DEFAULT 0;
UPDATE repositories SET tag_count = (SELECT COUNT(*) FROM tags WHERE repository_id = repositories.id);

CREATE FUNCTION counts_tag_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repositories SET tag_count = tag_count + 1 WHERE id = NEW.repository_id;
    RETURN NULL;
END $$;
CREATE TRIGGER counts_tag_added AFTER INSERT ON tags FOR EACH ROW EXECUTE FUNCTION counts_tag_added();

CREATE FUNCTION counts_tag_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repositories SET tag_count = tag_count - 1 WHERE id = OLD.repository_id;
    RETURN NULL;
END $$;
CREATE TRIGGER counts_tag_removed AFTER DELETE ON tags FOR EACH ROW EXECUTE FUNCTION counts_tag_removed();

DROP INDEX tags_by_digest;
CREATE INDEX tags_by_digest ON tags (repository_id, digest, name);

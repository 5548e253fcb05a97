-- The web UI's listings. Tags newest first and the tags on one manifest come from indexes; the
-- newest push into each repository (a manifest stored, a tag put or moved) is kept on the
-- repository's row by triggers, in the writer's own transaction, so that repositories list newest
-- first by an index too.
-- depends: 0001_initial

CREATE INDEX tags_by_update ON tags (repository_id, updated_at, name);
CREATE INDEX tags_by_digest ON tags (repository_id, digest);

ALTER TABLE repositories ADD COLUMN pushed_at REAL NOT NULL DEFAULT 0;
UPDATE repositories SET pushed_at = COALESCE((
    SELECT MAX(pushed) FROM (
        SELECT MAX(updated_at) AS pushed FROM tags WHERE repository_id = repositories.id
        UNION ALL
        SELECT MAX(created_at) FROM manifests WHERE repository_id = repositories.id)), 0);
CREATE INDEX repositories_by_push ON repositories (pushed_at, name);

CREATE TRIGGER ui_manifest_pushed AFTER INSERT ON manifests BEGIN
    UPDATE repositories SET pushed_at = NEW.created_at WHERE id = NEW.repository_id AND pushed_at < NEW.created_at;
END;

CREATE TRIGGER ui_tag_pushed AFTER INSERT ON tags BEGIN
    UPDATE repositories SET pushed_at = NEW.updated_at WHERE id = NEW.repository_id AND pushed_at < NEW.updated_at;
END;

CREATE TRIGGER ui_tag_moved AFTER UPDATE OF updated_at ON tags BEGIN
    UPDATE repositories SET pushed_at = NEW.updated_at WHERE id = NEW.repository_id AND pushed_at < NEW.updated_at;
END;

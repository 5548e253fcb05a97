-- The web UI's listings, as sqlite/0005_ui.sql: indexes for tags newest first and the tags on one
-- manifest, and each repository's newest push kept on its row by triggers (in the writer's
-- transaction; a push locks only the row of the repository it writes to).
-- depends: 0001_initial

CREATE INDEX tags_by_update ON tags (repository_id, updated_at, name);
CREATE INDEX tags_by_digest ON tags (repository_id, digest);

ALTER TABLE repositories ADD COLUMN pushed_at DOUBLE PRECISION NOT NULL DEFAULT 0;
UPDATE repositories SET pushed_at = COALESCE(GREATEST(
    (SELECT MAX(updated_at) FROM tags WHERE repository_id = repositories.id),
    (SELECT MAX(created_at) FROM manifests WHERE repository_id = repositories.id)), 0);
CREATE INDEX repositories_by_push ON repositories (pushed_at, name);

CREATE FUNCTION ui_manifest_pushed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repositories SET pushed_at = NEW.created_at WHERE id = NEW.repository_id AND pushed_at < NEW.created_at;
    RETURN NULL;
END $$;
CREATE TRIGGER ui_manifest_pushed AFTER INSERT ON manifests FOR EACH ROW EXECUTE FUNCTION ui_manifest_pushed();

CREATE FUNCTION ui_tag_pushed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repositories SET pushed_at = NEW.updated_at WHERE id = NEW.repository_id AND pushed_at < NEW.updated_at;
    RETURN NULL;
END $$;
CREATE TRIGGER ui_tag_pushed AFTER INSERT OR UPDATE OF updated_at ON tags FOR EACH ROW EXECUTE FUNCTION ui_tag_pushed();

-- Each repository's tag count, kept on its row by triggers in the writer's own transaction: the web
-- UI shows it for every repository of a page and as the total of a tags page, and counting would
-- cost as much as the repository has tags (a second for a million). A tag moved by an upsert is
-- an update, not an insert, and keeps the count; tags a manifest's deletion takes go by cascade,
-- which fires the delete trigger too.
-- depends: 0013_audit

ALTER TABLE repositories ADD COLUMN tag_count INTEGER NOT NULL DEFAULT 0;
UPDATE repositories SET tag_count = (SELECT COUNT(*) FROM tags WHERE repository_id = repositories.id);

CREATE TRIGGER counts_tag_added AFTER INSERT ON tags BEGIN
    UPDATE repositories SET tag_count = tag_count + 1 WHERE id = NEW.repository_id;
END;

CREATE TRIGGER counts_tag_removed AFTER DELETE ON tags BEGIN
    UPDATE repositories SET tag_count = tag_count - 1 WHERE id = OLD.repository_id;
END;

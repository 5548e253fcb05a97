-- depends: 0001_initial
-- Indexes the web UI's listings need: tags newest first, a repository's last push, and the
-- tags that point at one manifest.
CREATE INDEX tags_by_update ON tags (repository_id, updated_at);
CREATE INDEX tags_by_digest ON tags (repository_id, digest);
CREATE INDEX manifests_by_creation ON manifests (repository_id, created_at);

-- depends: 0010_replication_uploads
-- The audit log (meta/audit.py): who did what, from where and when, one row per recorded action,
-- written in the transaction of the change it records. Kept `audit.retention_days`.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         REAL NOT NULL,
    action     TEXT NOT NULL,
    actor      TEXT,
    client     TEXT NOT NULL,
    request_id TEXT NOT NULL,
    repository TEXT,
    digest     TEXT,
    tag        TEXT,
    previous   TEXT,
    detail     TEXT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_repository ON audit_log (repository, id);
CREATE INDEX audit_log_by_actor ON audit_log (actor, id);

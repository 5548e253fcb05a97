-- depends: 0001_initial
-- Replication: one row per rule with the lease of the process running it (a rule never runs
-- twice at once) and the last scheduled time a run was started for (each slot runs once).
CREATE TABLE replication_rules (
    name        TEXT PRIMARY KEY,
    owner       TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    last_slot   REAL NOT NULL DEFAULT 0
);

-- The history of finished runs, the newest few kept per rule, for status pages.
CREATE TABLE replication_runs (
    id          INTEGER PRIMARY KEY,
    rule        TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    started_at  REAL NOT NULL,
    finished_at REAL NOT NULL,
    result      TEXT NOT NULL,
    manifests   BIGINT NOT NULL,
    blobs       BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    errors      BIGINT NOT NULL,
    message     TEXT,
    slot        REAL
);
CREATE INDEX replication_runs_by_rule ON replication_runs (rule, id);

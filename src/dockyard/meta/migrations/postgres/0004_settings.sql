-- depends: 0001_initial
-- Runtime settings every process and instance shares, switched by `dockyard admin`
-- (read-only mode). One row per setting; values are text.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);

-- The notification outbox: events for each endpoint, written in the transaction of the change
-- they describe and removed once delivered (or dropped). Ids give the delivery order.
CREATE TABLE event_outbox (
    id         INTEGER PRIMARY KEY,
    endpoint   TEXT NOT NULL,
    repository TEXT NOT NULL,
    payload    TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX event_outbox_by_endpoint ON event_outbox (endpoint, id);

-- One row per endpoint: which worker holds its delivery lease, and its backoff.
CREATE TABLE event_endpoints (
    name        TEXT PRIMARY KEY,
    owner       TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    retry_at    REAL NOT NULL DEFAULT 0,
    failures    INTEGER NOT NULL DEFAULT 0
);

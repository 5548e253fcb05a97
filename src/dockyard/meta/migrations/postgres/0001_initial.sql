-- The initial schema, as sqlite/0001_initial.sql. Digests are stored as their text form,
-- 'algorithm:encoded'; names compare bytewise (COLLATE "C") so that tag and catalog pages come in the
-- same order as on SQLite whatever the database's locale.
CREATE TABLE repositories (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE blobs (
    digest     TEXT COLLATE "C" PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE repository_blobs (
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT COLLATE "C" NOT NULL REFERENCES blobs (digest),
    linked_at     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

CREATE TABLE manifests (
    repository_id  BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         TEXT COLLATE "C" NOT NULL,
    media_type     TEXT NOT NULL,
    size           BIGINT NOT NULL,
    body           BYTEA NOT NULL,
    artifact_type  TEXT,
    subject        TEXT COLLATE "C",
    annotations    TEXT,
    created_at     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX manifests_by_subject ON manifests (repository_id, subject) WHERE subject IS NOT NULL;

-- What each manifest references, so that garbage collection never needs to parse manifests.
CREATE TABLE manifest_blobs (
    repository_id   BIGINT NOT NULL,
    manifest_digest TEXT COLLATE "C" NOT NULL,
    blob_digest     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repository_id, manifest_digest, blob_digest),
    FOREIGN KEY (repository_id, manifest_digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_blobs_by_blob ON manifest_blobs (blob_digest);

CREATE TABLE manifest_children (
    repository_id  BIGINT NOT NULL,
    parent_digest  TEXT COLLATE "C" NOT NULL,
    child_digest   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repository_id, parent_digest, child_digest),
    FOREIGN KEY (repository_id, parent_digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_children_by_child ON manifest_children (repository_id, child_digest);

CREATE TABLE tags (
    repository_id BIGINT NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    digest        TEXT COLLATE "C" NOT NULL,
    updated_at    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (repository_id, name),
    FOREIGN KEY (repository_id, digest) REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);

CREATE TABLE uploads (
    id          TEXT COLLATE "C" PRIMARY KEY,
    repository  TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX uploads_by_age ON uploads (updated_at);

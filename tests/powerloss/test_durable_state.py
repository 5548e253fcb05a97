"""Each piece of state dockyard keeps on local disk, written through its own layer and then put
through a power cut: what was acknowledged (a call that returned) is there afterwards, whole, and
what was undone stays undone. Each test first makes everything before the step it checks durable
(a sync of the whole disk), so that it fails if that step skips a file or directory sync."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support.powercut import PowerCutDir

from dockyard.auth.htpasswd import check_password, load, set_user
from dockyard.auth.keys import signing_key, thumbprint
from dockyard.blobs.filesystem import FilesystemBlobStore
from dockyard.core.digest import Digest
from dockyard.meta.sqlite import SqliteMetadataStore
from dockyard.ui.session import session_key

UPLOAD = "0f8fad5b-d9cb-4fa6-9b7e-5f2c8a1b3c4d"
KIB = 1024


def cut_and_remount(disk: PowerCutDir, tear_seed: int | None = None) -> dict[str, int]:
    dropped = disk.cut(tear_seed=tear_seed)
    disk.mount()
    return dropped


async def body(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def append(store: FilesystemBlobStore, offset: int, *parts: bytes) -> int:
    return asyncio.run(store.append_upload(UPLOAD, offset, body(*parts), None))


def store_on(disk: PowerCutDir) -> FilesystemBlobStore:
    """A blob store on the mount, its directories made durable."""
    store = FilesystemBlobStore(disk.path)
    disk.sync()
    return store


def started(disk: PowerCutDir) -> FilesystemBlobStore:
    """A blob store with an upload session, all durable."""
    store = FilesystemBlobStore(disk.path)
    asyncio.run(store.start_upload(UPLOAD))
    disk.sync()
    return store


def auth_dir(disk: PowerCutDir) -> Path:
    (disk.path / "data" / "auth").mkdir(parents=True)
    disk.sync()
    return disk.path / "data" / "auth"


def push(store: FilesystemBlobStore, data: bytes) -> Digest:
    digest = Digest.of(data)
    asyncio.run(store.start_upload(UPLOAD))
    append(store, 0, data)
    asyncio.run(store.commit_upload(UPLOAD, digest, len(data)))
    return digest


def stored(store: FilesystemBlobStore, digest: Digest) -> bytes | None:
    async def read() -> bytes | None:
        if await store.source(digest) is None:
            return None
        return b"".join([chunk async for chunk in store.read(digest)])

    return asyncio.run(read())


def upload_bytes(store: FilesystemBlobStore) -> bytes:
    async def read() -> bytes:
        return b"".join([chunk async for chunk in store.read_upload(UPLOAD)])

    return asyncio.run(read())


def test_blobs_survive_in_a_data_directory_dockyard_created(powercut_dir: PowerCutDir) -> None:
    root = powercut_dir.path / "srv" / "data"
    digest = push(FilesystemBlobStore(root), b"layer")
    cut_and_remount(powercut_dir)
    assert stored(FilesystemBlobStore(root), digest) == b"layer"


def test_an_acknowledged_session_survives(powercut_dir: PowerCutDir) -> None:
    asyncio.run(store_on(powercut_dir).start_upload(UPLOAD))
    cut_and_remount(powercut_dir)
    assert asyncio.run(FilesystemBlobStore(powercut_dir.path).upload_size(UPLOAD)) == 0


def test_acknowledged_chunks_survive(powercut_dir: PowerCutDir) -> None:
    store = started(powercut_dir)
    chunks = [os.urandom(300 * KIB) for _ in range(3)]
    offset = 0
    for chunk in chunks:
        offset = append(store, offset, chunk)
    cut_and_remount(powercut_dir)
    store = FilesystemBlobStore(powercut_dir.path)
    assert asyncio.run(store.upload_size(UPLOAD)) == offset
    assert upload_bytes(store) == b"".join(chunks)


@pytest.mark.parametrize("tear_seed", [1, 2, 3])
def test_what_a_dying_writer_left_is_dropped_and_the_upload_resumes(powercut_dir: PowerCutDir, tear_seed: int) -> None:
    """A chunk in flight at the cut: its pages reach the disk or not, in no order (zeroed holes)."""
    store = started(powercut_dir)
    head, rest = os.urandom(64 * KIB), os.urandom(512 * KIB)
    acknowledged = append(store, 0, head)
    powercut_dir.sync()
    with (powercut_dir.path / "uploads" / UPLOAD).open("ab") as dying:  # the writer the power took
        dying.write(rest[: 256 * KIB])
    dropped = cut_and_remount(powercut_dir, tear_seed)
    assert dropped["pages_kept"] > 0
    assert dropped["pages_lost"] > 0
    store = FilesystemBlobStore(powercut_dir.path)
    assert asyncio.run(store.upload_size(UPLOAD)) == acknowledged
    assert append(store, acknowledged, rest) == len(head + rest)
    digest = Digest.of(head + rest)
    asyncio.run(store.commit_upload(UPLOAD, digest, len(head + rest)))
    assert stored(store, digest) == head + rest


def test_a_committed_upload_leaves_only_its_blob(powercut_dir: PowerCutDir) -> None:
    store = started(powercut_dir)
    append(store, 0, b"layer")
    digest = Digest.of(b"layer")
    asyncio.run(store.commit_upload(UPLOAD, digest, 5))
    cut_and_remount(powercut_dir)
    assert stored(FilesystemBlobStore(powercut_dir.path), digest) == b"layer"
    assert list((powercut_dir.path / "uploads").iterdir()) == []


def test_a_session_within_one_request_is_made_durable_by_its_commit(powercut_dir: PowerCutDir) -> None:
    """A monolithic push syncs neither its session nor its bytes before the commit, which does both."""
    store = store_on(powercut_dir)
    asyncio.run(store.start_upload(UPLOAD, durable=False))
    asyncio.run(store.append_upload(UPLOAD, 0, body(b"layer"), None, durable=False))
    digest = Digest.of(b"layer")
    asyncio.run(store.commit_upload(UPLOAD, digest, 5))
    cut_and_remount(powercut_dir)
    assert stored(FilesystemBlobStore(powercut_dir.path), digest) == b"layer"
    assert list((powercut_dir.path / "uploads").iterdir()) == []


def test_a_cancelled_upload_stays_cancelled(powercut_dir: PowerCutDir) -> None:
    store = started(powercut_dir)
    append(store, 0, b"bytes")
    powercut_dir.sync()
    asyncio.run(store.abort_upload(UPLOAD))
    cut_and_remount(powercut_dir)
    assert asyncio.run(FilesystemBlobStore(powercut_dir.path).upload_size(UPLOAD)) is None
    assert list((powercut_dir.path / "uploads").iterdir()) == []


def test_a_quarantined_blob_stays_out_of_service(powercut_dir: PowerCutDir) -> None:
    store = FilesystemBlobStore(powercut_dir.path)
    digest = push(store, b"corrupt")
    powercut_dir.sync()
    asyncio.run(store.quarantine(digest))
    cut_and_remount(powercut_dir)
    assert stored(FilesystemBlobStore(powercut_dir.path), digest) is None
    assert (powercut_dir.path / "quarantine" / f"sha256-{digest.encoded}").read_bytes() == b"corrupt"


def test_the_metadata_database_survives_in_a_directory_dockyard_created(powercut_dir: PowerCutDir) -> None:
    """SQLite syncs the directory when it creates its WAL, which makes the database file's own new
    entry durable too; the directory's entry is dockyard's to sync."""
    path = powercut_dir.path / "db" / "metadata.db"

    async def create() -> None:
        store = SqliteMetadataStore(path)
        await store.create_upload(UPLOAD, "library/app")
        await store.close()

    asyncio.run(create())
    cut_and_remount(powercut_dir)

    async def read() -> str | None:
        store = SqliteMetadataStore(path)
        try:
            session = await store.get_upload(UPLOAD)
        finally:
            await store.close()
        return None if session is None else session.repository

    assert asyncio.run(read()) == "library/app"


def test_the_ui_session_key_survives(powercut_dir: PowerCutDir) -> None:
    path = auth_dir(powercut_dir) / "ui-session.key"
    key = session_key(path)
    cut_and_remount(powercut_dir)
    assert session_key(path) == key


def test_the_token_signing_key_survives(powercut_dir: PowerCutDir) -> None:
    path = auth_dir(powercut_dir) / "token.key"
    key, _ = signing_key(path, "ES256")
    cut_and_remount(powercut_dir)
    assert thumbprint(signing_key(path, "ES256")[0].public_key()) == thumbprint(key.public_key())


def test_a_changed_password_stays_changed(powercut_dir: PowerCutDir) -> None:
    path = auth_dir(powercut_dir) / "htpasswd"
    set_user(path, "alice", "first password", cost=4)
    powercut_dir.sync()
    set_user(path, "alice", "second password", cost=4)
    cut_and_remount(powercut_dir)
    assert check_password(b"second password", load(path)["alice"])
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.endswith(".lock")) == ["htpasswd"]

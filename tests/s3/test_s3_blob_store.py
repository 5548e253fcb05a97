"""The BlobStore interface, driven directly, on the filesystem and on S3 alike.

Each test runs its own event loop; a "second instance" is a second store object on the same
directory or bucket, as another dockyard process would have.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path

import pytest

from dockyard.blobs.base import BlobStore, LocalFile, StreamedBlob, UnknownUpload, UploadConflict
from dockyard.blobs.filesystem import FilesystemBlobStore
from dockyard.blobs.s3 import S3BlobStore
from dockyard.blobs.s3_client import S3Location
from dockyard.core.digest import Digest

MIB = 1 << 20
StoreFactory = Callable[[], BlobStore]


@pytest.fixture(params=["filesystem", "s3"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Makes store objects that all see the same blobs and uploads."""
    if request.param == "filesystem":
        return lambda: FilesystemBlobStore(tmp_path)
    env = request.getfixturevalue("s3_env")
    location = S3Location(
        bucket=env["DOCKYARD_STORAGE__S3__BUCKET"],
        endpoint=env["DOCKYARD_STORAGE__S3__ENDPOINT"],
        access_key=env["DOCKYARD_STORAGE__S3__ACCESS_KEY"],
        secret_key=env["DOCKYARD_STORAGE__S3__SECRET_KEY"],
        prefix="some/prefix",
    )
    return lambda: S3BlobStore(location)


def run(open_store: StoreFactory, scenario: Callable[[BlobStore], Awaitable[None]]) -> None:
    async def main() -> None:
        store = open_store()
        try:
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(main())


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def blob_bytes(store: BlobStore, digest: Digest, start: int = 0, end: int | None = None) -> bytes | None:
    source = await store.source(digest)
    if source is None:
        return None
    stop = source.size if end is None else end
    if isinstance(source, LocalFile):
        with open(source.path, "rb") as file:
            file.seek(start)
            return file.read(stop - start)
    assert isinstance(source, StreamedBlob)
    return await collect(await source.open(start, stop))


async def upload(store: BlobStore, pieces: Iterable[bytes]) -> str:
    upload_id = str(uuid.uuid4())
    await store.start_upload(upload_id)
    size = 0
    for piece in pieces:
        size = await store.append_upload(upload_id, size, body(piece), None)
    return upload_id


def test_chunks_of_any_size_become_one_blob(open_store: StoreFactory) -> None:
    pieces = [b"abc", b"d", bytes(range(256)) * (24 * 1024), b"", b"tail" * 25, b"x" * (9 * MIB + 7), b"!"]
    data = b"".join(pieces)
    digest = Digest.of(data)

    async def scenario(store: BlobStore) -> None:
        upload_id = str(uuid.uuid4())
        await store.start_upload(upload_id)
        hasher, size = hashlib.sha256(), 0
        for piece in pieces:
            size = await store.append_upload(
                upload_id, size, body(piece[: len(piece) // 2], piece[len(piece) // 2 :]), hasher
            )
            assert await store.upload_size(upload_id) == size
        assert hasher.hexdigest() == digest.encoded
        assert await collect(store.read_upload(upload_id)) == data
        assert await store.source(digest) is None, "visible before the commit"
        await store.commit_upload(upload_id, digest, len(data))
        assert await store.upload_size(upload_id) is None
        assert await blob_bytes(store, digest) == data
        assert await blob_bytes(store, digest, 6 * MIB - 5, 6 * MIB + 5) == data[6 * MIB - 5 : 6 * MIB + 5]

    run(open_store, scenario)


def test_one_large_chunk_in_constant_parts(open_store: StoreFactory) -> None:
    data = bytes(range(251)) * (100 * 1024)  # ~24.5 MiB, three parts and a remainder on S3
    digest = Digest.of(data)

    async def scenario(store: BlobStore) -> None:
        upload_id = str(uuid.uuid4())
        await store.start_upload(upload_id)
        chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
        assert await store.append_upload(upload_id, 0, body(*chunks), None) == len(data)
        await store.commit_upload(upload_id, digest, len(data))
        assert await blob_bytes(store, digest) == data

    run(open_store, scenario)


def test_another_instance_continues_and_commits_an_upload(open_store: StoreFactory) -> None:
    first, second = b"a" * (6 * MIB), b"b" * 1000
    digest = Digest.of(first + second)

    async def scenario(store: BlobStore) -> None:
        upload_id = await upload(store, [first])
        other = open_store()
        try:
            assert await other.upload_size(upload_id) == len(first)
            assert await other.append_upload(upload_id, len(first), body(second), None) == len(first) + len(second)
            assert await collect(other.read_upload(upload_id)) == first + second
            await other.commit_upload(upload_id, digest, len(first) + len(second))
        finally:
            await other.close()
        assert await blob_bytes(store, digest) == first + second

    run(open_store, scenario)


def test_another_instance_follows_an_upload_from_any_offset_as_it_grows(open_store: StoreFactory) -> None:
    """What the pull-through cache's followers do: read what another process has appended so far,
    from where they are, while it goes on appending."""
    pieces = [b"p" * (5 * MIB + 3), b"q" * 1000, b"r" * (6 * MIB)]
    data = b"".join(pieces)

    async def scenario(store: BlobStore) -> None:
        upload_id = str(uuid.uuid4())
        await store.start_upload(upload_id)
        follower = open_store()
        try:
            size = 0
            for piece in pieces:
                size = await store.append_upload(upload_id, size, body(piece), None)
                assert await follower.upload_size(upload_id) == size
                for start in (0, 1, size // 2, 5 * MIB + 3, size - 1, size):
                    if start <= size:
                        assert await collect(follower.read_upload(upload_id, start)) == data[start:size]
            await store.commit_upload(upload_id, Digest.of(data), len(data))
            with pytest.raises(UnknownUpload):
                await collect(follower.read_upload(upload_id, 10))
        finally:
            await follower.close()

    run(open_store, scenario)


def test_a_chunk_at_the_wrong_offset_is_a_conflict(open_store: StoreFactory) -> None:
    async def scenario(store: BlobStore) -> None:
        upload_id = await upload(store, [b"12345"])
        for offset in (0, 4, 6):
            with pytest.raises(UploadConflict) as raised:
                await store.append_upload(upload_id, offset, body(b"more"), None)
            assert raised.value.current_size == 5
        assert await collect(store.read_upload(upload_id)) == b"12345"

    run(open_store, scenario)


def test_two_writers_at_one_offset_one_wins_and_the_bytes_are_its(open_store: StoreFactory) -> None:
    async def scenario(store: BlobStore) -> None:
        upload_id = await upload(store, [b"head-"])
        other = open_store()
        writing: list[bytes] = []  # each writer read the upload's state before taking its first piece
        both_writing, both_started = asyncio.Event(), asyncio.Event()

        async def slow(piece: bytes) -> AsyncIterator[bytes]:
            yield piece
            writing.append(piece)
            if len(writing) == 2:
                both_writing.set()
            await both_started.wait()
            yield piece

        async def write(writer: BlobStore, piece: bytes) -> int:
            return await writer.append_upload(upload_id, 5, slow(piece), None)

        try:
            first = asyncio.ensure_future(write(store, b"A" * 100))
            second = asyncio.ensure_future(write(other, b"B" * 100))
            # Until both are writing, or one has already failed.
            waiting = asyncio.ensure_future(both_writing.wait())
            done, _ = await asyncio.wait([waiting, first, second], timeout=30, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            assert done, "neither writer took its first piece"
            both_started.set()
            outcomes = await asyncio.gather(first, second, return_exceptions=True)
        finally:
            await other.close()
        assert sorted(type(outcome).__name__ for outcome in outcomes) == ["UploadConflict", "int"], outcomes
        winner = b"A" if outcomes[0] == 205 else b"B"
        assert await collect(store.read_upload(upload_id)) == b"head-" + winner * 200

    run(open_store, scenario)


def test_a_commit_of_other_than_the_verified_size_is_refused(open_store: StoreFactory) -> None:
    async def scenario(store: BlobStore) -> None:
        upload_id = await upload(store, [b"verified", b" and more"])
        digest = Digest.of(b"verified")
        with pytest.raises(UploadConflict):
            await store.commit_upload(upload_id, digest, len(b"verified"))
        assert await store.source(digest) is None

    run(open_store, scenario)


def test_a_body_that_breaks_off_keeps_what_arrived(open_store: StoreFactory) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        yield b"y" * 1000
        raise ConnectionResetError("client went away")

    async def scenario(store: BlobStore) -> None:
        upload_id = await upload(store, [b"start"])
        with pytest.raises(ConnectionResetError):
            await store.append_upload(upload_id, 5, broken(), None)
        assert await store.upload_size(upload_id) == 2005
        assert await collect(store.read_upload(upload_id)) == b"start" + b"x" * 1000 + b"y" * 1000

    run(open_store, scenario)


def test_an_aborted_upload_is_unknown(open_store: StoreFactory) -> None:
    async def scenario(store: BlobStore) -> None:
        upload_id = await upload(store, [b"z" * (6 * MIB), b"tail"])
        await store.abort_upload(upload_id)
        assert await store.upload_size(upload_id) is None
        with pytest.raises(UnknownUpload):
            await store.append_upload(upload_id, 0, body(b"again"), None)
        await store.abort_upload(upload_id)  # twice is fine

    run(open_store, scenario)


def test_the_empty_blob(open_store: StoreFactory) -> None:
    digest = Digest.of(b"")

    async def scenario(store: BlobStore) -> None:
        upload_id = await upload(store, [])
        await store.commit_upload(upload_id, digest, 0)
        assert await blob_bytes(store, digest) == b""

    run(open_store, scenario)


async def _stored(store: BlobStore, data: bytes) -> Digest:
    digest = Digest.of(data)
    await store.commit_upload(await upload(store, [data]), digest, len(data))
    return digest


def test_read_list_delete_and_quarantine(open_store: StoreFactory) -> None:
    async def scenario(store: BlobStore) -> None:
        kept = await _stored(store, b"kept" * 1000)
        dropped = await _stored(store, b"dropped")
        odd = await _stored(store, b"odd one")
        listed = {blob.digest: blob.size async for blob in store.list_blobs()}
        assert listed == {kept: 4000, dropped: 7, odd: 7}
        assert await collect(store.read(kept)) == b"kept" * 1000
        await store.delete(dropped)
        await store.delete(dropped)  # idempotent
        await store.quarantine(odd)
        assert {blob.digest async for blob in store.list_blobs()} == {kept}
        assert await store.source(odd) is None
        with pytest.raises(FileNotFoundError):
            await collect(store.read(dropped))

    run(open_store, scenario)

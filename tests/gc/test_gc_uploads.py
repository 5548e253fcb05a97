"""Uploads and collection of the same digest: an open session's claim holds a blob, and an upload
of a digest whose old bytes are being deleted waits for the deletion instead of losing its bytes."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from pathlib import Path

from tests.gc.graphs import Stores, chunks_of
from tests.support.wait import wait_until

from dockyard.core.digest import Digest

BLOB = b"a blob pushed, unlinked and pushed again"
DIGEST = Digest.of(BLOB)


async def _unreferenced_blob(stores: Stores) -> None:
    await stores.push_blob("team/app", BLOB)
    await stores.registry.blobs.delete("team/app", DIGEST)


async def _claimed(root: Path, upload: asyncio.Task[int]) -> None:
    """Until the upload has claimed its digest (read straight from the database file)."""

    def claimed() -> bool:
        with sqlite3.connect(root / "metadata.db") as conn:
            return bool(conn.execute("SELECT 1 FROM gc_upload_claims WHERE digest = ?", (str(DIGEST),)).fetchone())

    await asyncio.to_thread(wait_until, lambda: claimed() or upload.done(), 30, "the upload never claimed its digest")
    assert not upload.done(), upload.result()


def test_an_open_upload_claiming_a_digest_holds_its_blob(tmp_path: Path) -> None:
    async def scenario() -> None:
        stores = Stores(tmp_path)
        try:
            await _unreferenced_blob(stores)
            session = await stores.registry.uploads.start("team/other")
            assert not await stores.meta.claim_upload_digest(session.id, str(DIGEST))
            await stores.collector.collect(now=True)
            assert await stores.stored_blobs() == {str(DIGEST)}
            await stores.registry.uploads.cancel("team/other", session.id)
            await stores.collector.collect(now=True)
            assert await stores.stored_blobs() == set()
        finally:
            await stores.close()

    asyncio.run(scenario())


def test_an_upload_racing_the_deletion_of_its_digest_keeps_its_bytes(tmp_path: Path) -> None:
    async def scenario() -> None:
        stores = Stores(tmp_path)
        try:
            await _unreferenced_blob(stores)
            # The metadata is gone and the bytes are queued for deletion, not yet deleted.
            outcome = await stores.meta.review_garbage(math.inf, True, 100)
            assert [item.digest for item in outcome.collected] == [str(DIGEST)]
            assert await stores.meta.blob_deletion_pending(str(DIGEST))
            upload = asyncio.create_task(stores.registry.uploads.upload_whole("team/app", DIGEST, chunks_of(BLOB)))
            await _claimed(tmp_path, upload)
            assert not upload.done()  # it waits for the deletion
            assert await stores.collector.delete_bytes() == 1
            assert await upload == len(BLOB)
            assert await stores.registry.blobs.size("team/app", DIGEST) == len(BLOB)
            assert b"".join([chunk async for chunk in stores.blob_store.read(DIGEST)]) == BLOB
        finally:
            await stores.close()

    asyncio.run(scenario())

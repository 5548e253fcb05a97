"""`dockyard migrate --from DIR`: copy an embedded registry (SQLite + filesystem in DIR) into the
metadata and blob stores the settings name (PostgreSQL at database.url; blobs as configured).

Resumable and idempotent: a blob already in the target is skipped, links and manifests are written
with the stores' idempotent writes, so running it again after an interruption finishes the job.
Every blob is hashed on the way and stored only if it matches its digest; manifests are checked
against theirs. The source is opened read-only and never changed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from dockyard.blobs.base import BlobStore, LocalFile
from dockyard.blobs.filesystem import FilesystemBlobStore
from dockyard.commands.flags import add_setting_flags
from dockyard.commands.stores import open_blobs, open_metadata
from dockyard.config.settings import Settings
from dockyard.core.digest import Digest, new_hasher
from dockyard.meta.errors import MetadataUnavailable
from dockyard.meta.factory import prepare_metadata_store
from dockyard.meta.manifests import Manifests
from dockyard.meta.snapshot import SqliteSnapshot
from dockyard.meta.uploads import Uploads

_CHUNK = 1 << 20
_SESSION_REPOSITORY = "dockyard-migrate"  # upload sessions of the copy; purged like any if it dies


@dataclass
class Tally:
    copied: int = 0
    copied_bytes: int = 0
    present: int = 0
    corrupt: int = 0
    links: int = 0
    manifests: int = 0
    bad_manifests: int = 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "migrate",
        help="copy an embedded registry into the configured stores (PostgreSQL, ...)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_setting_flags(parser)  # the target's settings, as for serve
    parser.add_argument("--from", dest="source", metavar="DIR", required=True, help="the embedded registry's data dir")
    parser.set_defaults(run=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if settings.database.url is None:
        print("dockyard migrate: set database.url (e.g. DOCKYARD_DATABASE__URL) to the target", file=sys.stderr)
        return 2
    source = Path(args.source).resolve()
    if source == settings.data_dir.resolve():
        print("dockyard migrate: the source and the target data dir must differ", file=sys.stderr)
        return 2
    try:
        target = prepare_metadata_store(settings)
        snapshot = SqliteSnapshot(source / "metadata.db")
    except (MetadataUnavailable, FileNotFoundError) as error:
        print(f"dockyard migrate: {error}", file=sys.stderr)
        return 2
    started = time.monotonic()
    tally = asyncio.run(_migrate(snapshot, FilesystemBlobStore(source), settings))
    snapshot.close()
    print(
        f"dockyard migrate: {tally.copied} blobs copied ({tally.copied_bytes:,} bytes), {tally.present} already "
        f"there, {tally.corrupt} failed verification; {tally.links} blob links, {tally.manifests} manifests "
        f"({tally.bad_manifests} failed verification) into {target} in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 1 if tally.corrupt or tally.bad_manifests else 0


async def _migrate(snapshot: SqliteSnapshot, source: BlobStore, settings: Settings) -> Tally:
    meta = await open_metadata(settings)
    target = await open_blobs(settings)
    tally = Tally()
    try:
        verified = await _copy_blobs(snapshot, source, target, meta, tally)
        for repository, digest, size in snapshot.links():
            if digest in verified:
                await meta.link_blob(repository, digest, size)
                tally.links += 1
        await _copy_manifests(snapshot, meta, tally)
    finally:
        await target.close()
        await meta.close()
    return tally


async def _copy_blobs(
    snapshot: SqliteSnapshot, source: BlobStore, target: BlobStore, meta: Uploads, tally: Tally
) -> set[str]:
    """Copy the blobs the target lacks; the digests of those it holds now."""
    blobs = snapshot.blobs()
    verified: set[str] = set()
    with tqdm(total=sum(size for _, size in blobs), unit="B", unit_scale=True, desc="blobs", disable=None) as bar:
        for text, size in blobs:
            digest = Digest.parse(text)
            if await target.source(digest) is not None:
                tally.present += 1
                verified.add(text)
            elif await _copy_blob(digest, source, target, meta):
                tally.copied += 1
                tally.copied_bytes += size
                verified.add(text)
            else:
                tally.corrupt += 1
                bar.write(f"dockyard migrate: blob {text} is missing or does not match its digest; not copied")
            bar.update(size)
    return verified


async def _copy_blob(digest: Digest, source: BlobStore, target: BlobStore, meta: Uploads) -> bool:
    found = await source.source(digest)
    if not isinstance(found, LocalFile):  # the source is an embedded registry: its blobs are files
        return False
    upload_id = str(uuid.uuid4())
    await meta.create_upload(upload_id, _SESSION_REPOSITORY)
    await target.start_upload(upload_id)
    hasher = new_hasher(digest.algorithm)
    try:
        size = await target.append_upload(upload_id, 0, _read_file(Path(found.path)), hasher)
        if hasher.hexdigest() != digest.encoded:
            return False
        await target.commit_upload(upload_id, digest, size)
        return True
    finally:
        await target.abort_upload(upload_id)  # nothing left to abort once committed
        await meta.delete_upload(upload_id)


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while chunk := await asyncio.to_thread(file.read, _CHUNK):
            yield chunk


async def _copy_manifests(snapshot: SqliteSnapshot, meta: Manifests, tally: Tally) -> None:
    with tqdm(total=snapshot.manifest_count(), unit=" manifests", desc="manifests", disable=None) as bar:
        for stored in snapshot.manifests():
            manifest = stored.manifest
            if str(Digest.of(manifest.body, Digest.parse(manifest.digest).algorithm)) != manifest.digest:
                tally.bad_manifests += 1
                bar.write(f"dockyard migrate: manifest {manifest.digest} does not match its digest; not copied")
            else:
                # The source accepted it: whatever it references was checked then (or allowed missing).
                await meta.put_manifest(stored.repository, manifest, stored.tags, require_blobs=False)
                tally.manifests += 1
            bar.update(1)

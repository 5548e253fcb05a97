"""Integrity checks: re-hash every blob the metadata lists and check every manifest's references.

`dockyard fsck` runs one pass at full speed; the background scrubber runs passes forever at
`gc.scrub_bytes_per_second`. With repair, a corrupt blob is quarantined and, like a missing one,
forgotten by the metadata, so it reads as unknown and a client can push it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

from dockyard.blobs.base import BlobStore
from dockyard.core.digest import Digest, new_hasher
from dockyard.gc import metrics
from dockyard.meta.blob_deletions import BlobDeletions
from dockyard.meta.integrity import Integrity
from dockyard.telemetry.failures import log_failure

log = logging.getLogger(__name__)

_PAGE = 500
_DANGLING_SHOWN = 1000
# Uploads of a blob being repaired wait this long at most for its bad bytes to be moved aside.
_REPAIR_HOLD_SECONDS = 60.0


class CheckerStore(Integrity, BlobDeletions, Protocol):
    """The blobs and references to check, and the byte-deletion queue: it tells a blob GC just
    took from a missing one, and a repair hands it the bad bytes."""


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # "corrupt", "missing" or "dangling"
    digest: str
    detail: str


@dataclass
class FsckReport:
    blobs: int = 0
    bytes: int = 0
    findings: list[Finding] = field(default_factory=list)
    repaired: int = 0

    def lines(self) -> list[str]:
        lines = [f"{finding.kind} {finding.digest}: {finding.detail}" for finding in self.findings]
        lines.append(
            f"checked {self.blobs} blobs ({self.bytes} bytes): {len(self.findings)} problems, {self.repaired} repaired"
        )
        return lines


class _Throttle:
    """Keeps reading at or below a rate, by sleeping when ahead of it."""

    def __init__(self, bytes_per_second: int):
        self._rate = bytes_per_second
        self._started = time.monotonic()
        self._bytes = 0

    async def took(self, size: int) -> None:
        if not self._rate:
            return
        self._bytes += size
        ahead = self._bytes / self._rate - (time.monotonic() - self._started)
        if ahead > 0:
            await asyncio.sleep(ahead)


class Checker:
    def __init__(self, meta: CheckerStore, store: BlobStore):
        self._meta = meta
        self._store = store

    async def check(self, repair: bool = False, bytes_per_second: int = 0) -> FsckReport:
        report = FsckReport()
        throttle = _Throttle(bytes_per_second)
        after = None
        while page := await self._meta.blob_page(after, _PAGE):
            for digest, size in page:
                finding = await self._check_blob(Digest.parse(digest), size, throttle)
                report.blobs += 1
                report.bytes += size
                metrics.SCRUBBED_BYTES.inc(size)
                if finding is not None:
                    metrics.SCRUB_FAILURES.labels(finding.kind).inc()
                    report.findings.append(finding)
                    if repair and await self._repair(finding):
                        report.repaired += 1
            after = page[-1][0]
        for repository, manifest, blob in await self._meta.dangling_references(_DANGLING_SHOWN):
            report.findings.append(Finding("dangling", blob, f"referenced by {repository}@{manifest}, not held"))
        return report

    async def _check_blob(self, digest: Digest, size: int, throttle: _Throttle) -> Finding | None:
        hasher = new_hasher(digest.algorithm)
        read = 0
        try:
            async for chunk in self._store.read(digest):
                hasher.update(chunk)
                read += len(chunk)
                await throttle.took(len(chunk))
        except FileNotFoundError:
            if await self._collected(str(digest)):
                return None
            return Finding("missing", str(digest), "listed in the metadata, absent from the blob store")
        actual = Digest(digest.algorithm, hasher.hexdigest())
        if actual != digest or read != size:
            return Finding("corrupt", str(digest), f"{read} bytes hashing to {actual}, expected {size} bytes")
        return None

    async def _collected(self, digest: str) -> bool:
        """Whether garbage collection took the blob since the page listing it was read."""
        return bool(await self._meta.orphaned_blobs([digest])) or await self._meta.blob_deletion_pending(digest)

    async def _repair(self, finding: Finding) -> bool:
        if not await self._meta.forget_blob(finding.digest, _REPAIR_HOLD_SECONDS):
            log.warning("not repairing %s: an upload of it is in progress", finding.digest)
            return False
        if finding.kind == "corrupt":
            await self._store.quarantine(Digest.parse(finding.digest))
        await self._meta.finish_blob_deletions([finding.digest])
        log.warning(
            "repaired %s blob %s: it now reads as unknown and may be pushed again", finding.kind, finding.digest
        )
        return True


async def scrub_forever(meta: CheckerStore, store: BlobStore, bytes_per_second: int) -> None:
    """Background integrity checking at a bounded rate; findings are logged and counted, not repaired."""
    if not bytes_per_second:
        return
    checker = Checker(meta, store)
    while True:
        try:
            report = await checker.check(bytes_per_second=bytes_per_second)
        except Exception as error:
            log_failure(log, "scrubbing (retried later)", error)
            await asyncio.sleep(60)
            continue
        metrics.SCRUB_PASSES.inc()
        for finding in report.findings:
            log.error("scrub found a %s blob %s: %s", finding.kind, finding.digest, finding.detail)

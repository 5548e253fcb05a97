"""The audit log's own retention, through its interface on both engines: entries older than
`retention_days` go, newer ones stay, and a purge that removed any is itself an entry. Also how
`dockyard audit --since` reads times and ages."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.wait import wait_until

from dockyard.audit.purge import PURGE, purge
from dockyard.commands.audit import entries, since
from dockyard.config.settings import Settings
from dockyard.meta.audit import AuditEntry, AuditQuery
from dockyard.meta.factory import open_metadata_store, prepare_metadata_store
from dockyard.meta.store import MetadataStore

_DAY = 86400.0


def _entry(action: str, actor: str) -> AuditEntry:
    return AuditEntry(action, actor, "127.0.0.1:1234", "request", "team/app", detail="test")


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path)
    database: Callable[[], dict[str, str]] = request.getfixturevalue("postgres_database")
    return Settings(data_dir=tmp_path, database={"url": database()["DOCKYARD_DATABASE__URL"]})


async def _purged(meta: MetadataStore) -> tuple[int, int, list[str]]:
    await meta.append_audit([_entry("delete", "old")])
    old_written = time.time()
    wait_until(lambda: time.time() > old_written + 0.01, 5, "the clock stands still")
    cutoff = time.time()
    wait_until(lambda: time.time() > cutoff + 0.01, 5, "the clock stands still")
    await meta.append_audit([_entry("delete", "new")])
    # Thirty days after the cutoff, with a retention of thirty days: only the old entry is past it.
    removed = await purge(meta, 30, now=cutoff + 30 * _DAY)
    again = await purge(meta, 30, now=cutoff + 30 * _DAY)
    kept = [f"{record.entry.action}:{record.entry.actor}" async for record in entries(meta, AuditQuery(limit=1))]
    return removed, again, kept


def test_purge_removes_what_is_past_retention_and_records_itself(store_settings: Settings) -> None:
    prepare_metadata_store(store_settings)
    meta = open_metadata_store(store_settings)

    async def run() -> tuple[int, int, list[str]]:
        await meta.start()
        try:
            return await _purged(meta)
        finally:
            await meta.close()

    removed, again, kept = asyncio.run(run())
    assert (removed, again) == (1, 0)
    # Read a page of one at a time: the paged read misses nothing and repeats nothing.
    assert kept == ["delete:new", f"{PURGE}:None"]


def test_since_reads_times_and_ages() -> None:
    assert since("2026-12-01") == since("2026-12-01T00:00:00+00:00") == 1796083200.0
    assert since("2026-12-01T01:00:00+01:00") == 1796083200.0
    assert abs(since("2d") - (time.time() - 2 * _DAY)) < 60
    with pytest.raises(argparse.ArgumentTypeError):
        since("last tuesday")

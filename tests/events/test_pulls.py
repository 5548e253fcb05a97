"""Pull events through PullRecorder's interface, on a real SQLite store: the background task that
stores them outlives a metadata store that fails while it asks whether the registry is read-only."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dockyard.config.settings import NotificationEndpoint
from dockyard.events.envelope import Source, Target
from dockyard.events.notifier import INTERNAL, Notifier
from dockyard.events.pulls import PullRecorder
from dockyard.meta import sqlite

ENDPOINT = NotificationEndpoint(name="pulls", url="http://127.0.0.1:9/events", events=["pull"])


def test_a_failing_read_only_check_does_not_end_the_task(tmp_path: Path) -> None:
    sqlite.prepare_database(tmp_path / "metadata.db")
    store = sqlite.SqliteMetadataStore(tmp_path / "metadata.db")
    asked = 0

    async def paused() -> bool:
        """The read-only switch of a store that is down for its first answers, then back."""
        nonlocal asked
        asked += 1
        if asked <= 3:
            raise ConnectionError("the metadata store is unreachable")
        return False

    async def scenario() -> int:
        recorder = PullRecorder(Notifier([ENDPOINT], Source("127.0.0.1:5000", "test")), store, capacity=100)
        task = asyncio.create_task(recorder.run(paused))
        try:
            recorder.record(Target("team/app", "sha256:" + "a" * 64, "application/json", 2, "v1"), INTERNAL)
            for _ in range(400):  # a few flush periods at most, bounded
                if await store.outbox_pending("pulls") or task.done():
                    break
                await asyncio.sleep(0.05)
            assert not task.done(), "the pull event task ended"
            return await store.outbox_pending("pulls")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await store.close()

    assert asyncio.run(scenario()) == 1
    assert asked > 3

"""Replication's leases, scheduled slots and run history (meta/replication.py).

A lease is a conditional UPDATE of the rule's row, like the outbox's endpoint leases; taking a
scheduled slot is the same UPDATE with the condition that the slot is newer than the last one
taken, so of several instances that see a slot fall due exactly one runs it.
"""

from __future__ import annotations

import time

from dockyard.meta.driver import Transaction
from dockyard.meta.replication import ReplicationRun, ReplicationState
from dockyard.meta.sql.core import SqlCore

_ENSURE = "INSERT INTO replication_rules (name, last_slot) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
_CLAIM = """UPDATE replication_rules SET owner = ?, lease_until = ?, last_slot = ? WHERE name IN (
    SELECT name FROM replication_rules WHERE name = ? AND (owner IS NULL OR owner = ? OR lease_until < ?)
    AND last_slot < ? {skip_locked})"""
_RUN_COLUMNS = "rule, trigger, started_at, finished_at, result, manifests, blobs, bytes, errors, message, slot"
_PRUNE = """DELETE FROM replication_runs WHERE rule = ? AND id <= (
    SELECT id FROM replication_runs WHERE rule = ? ORDER BY id DESC LIMIT 1 OFFSET ?)"""


class ReplicationQueries(SqlCore, ReplicationState):
    async def claim_replication(self, rule: str, owner: str, lease_seconds: float, slot: float | None = None) -> bool:
        claim = _CLAIM.format(skip_locked=self._dialect.skip_locked)

        async def run(tx: Transaction) -> bool:
            now = time.time()
            await tx.execute(_ENSURE, (rule, 0.0))
            if slot is None:  # keep the slot as it is: `last_slot < last_slot + 1` always holds
                row = await tx.fetch_one("SELECT last_slot FROM replication_rules WHERE name = ?", (rule,))
                assert row is not None
                taken, limit = float(row[0]), float(row[0]) + 1
            else:
                taken, limit = slot, slot
            changed = await tx.execute(claim, (owner, now + lease_seconds, taken, rule, owner, now, limit))
            return changed > 0

        return await self._write(run, invalidates=False)

    async def renew_replication(self, rule: str, owner: str, lease_seconds: float) -> bool:
        changed = await self._write_one(
            "UPDATE replication_rules SET lease_until = ? WHERE name = ? AND owner = ?",
            time.time() + lease_seconds,
            rule,
            owner,
            invalidates=False,
        )
        return changed > 0

    async def release_replication(self, rule: str, owner: str) -> None:
        await self._write_one(
            "UPDATE replication_rules SET owner = NULL, lease_until = 0 WHERE name = ? AND owner = ?",
            rule,
            owner,
            invalidates=False,
        )

    async def replication_slot(self, rule: str, first_slot: float) -> float:
        row = await self._read_one("SELECT last_slot FROM replication_rules WHERE name = ?", rule)
        if row is not None:
            return float(row[0])
        await self._write_one(_ENSURE, rule, first_slot, invalidates=False)
        row = await self._read_one("SELECT last_slot FROM replication_rules WHERE name = ?", rule)
        assert row is not None
        return float(row[0])

    async def record_replication_run(self, run: ReplicationRun, keep: int) -> None:
        async def work(tx: Transaction) -> None:
            await tx.execute(
                f"INSERT INTO replication_runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                (
                    run.rule,
                    run.trigger,
                    run.started_at,
                    run.finished_at,
                    run.result,
                    run.manifests,
                    run.blobs,
                    run.bytes,
                    run.errors,
                    run.message,
                    run.slot,
                ),
            )
            await tx.execute(_PRUNE, (run.rule, run.rule, keep))

        await self._write(work, invalidates=False)

    async def replication_runs(self, rule: str, limit: int) -> list[ReplicationRun]:
        rows = await self._read_all(
            f"SELECT {_RUN_COLUMNS} FROM replication_runs WHERE rule = ? ORDER BY id DESC LIMIT ?",  # noqa: S608
            rule,
            limit,
        )
        return [
            ReplicationRun(
                row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9] or "", row[10]
            )
            for row in rows
        ]

"""The audit log: entries of their own, paged reads oldest first, and the purge of old ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dockyard.meta.audit import AuditEntry, AuditLog, AuditQuery, AuditRecord
from dockyard.meta.driver import Transaction
from dockyard.meta.sql.core import SqlCore, insert_audit

_COLUMNS = "id, at, action, actor, client, request_id, repository, digest, tag, detail, previous"


def _where(query: AuditQuery) -> tuple[str, list[Any]]:
    conditions = ["id > ?"]
    params: list[Any] = [query.after_id]
    if query.repository is not None:
        conditions.append("repository = ?")
        params.append(query.repository)
    if query.actor is not None:
        conditions.append("actor = ?")
        params.append(query.actor)
    if query.before_id is not None:
        conditions.append("id < ?")
        params.append(query.before_id)
    if query.since is not None:
        conditions.append("at >= ?")
        params.append(query.since)
    return " AND ".join(conditions), params


class AuditQueries(SqlCore, AuditLog):
    async def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        async def run(tx: Transaction) -> None:
            await insert_audit(tx, entries)

        await self._write(run, invalidates=False)

    async def audit_entries(self, query: AuditQuery) -> list[AuditRecord]:
        where, params = _where(query)
        order = "DESC" if query.newest_first else "ASC"
        sql = f"SELECT {_COLUMNS} FROM audit_log WHERE {where} ORDER BY id {order} LIMIT ?"  # noqa: S608 - constant SQL
        rows = await self._read_all(sql, *params, query.limit)
        return [AuditRecord(int(id_), float(at), AuditEntry(*fields), previous) for id_, at, *fields, previous in rows]

    async def purge_audit(self, before: float) -> int:
        return await self._write_one("DELETE FROM audit_log WHERE at < ?", before, invalidates=False)

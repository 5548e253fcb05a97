"""Access tokens: looked up by the hash of their secret on every use, listed, revoked; last uses
written in batches."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from dockyard.meta.access_tokens import AccessTokenRecord, AccessTokens, DuplicateAccessToken
from dockyard.meta.audit import AuditEntry
from dockyard.meta.driver import Row, Transaction
from dockyard.meta.sql.core import SqlCore, insert_audit

_COLUMNS = "token_id, name, owner, repositories, actions, created_at, created_by, expires_at, last_used_at"
_INSERT = f"""INSERT INTO access_tokens (secret_hash, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (owner, name) DO NOTHING RETURNING token_id"""  # noqa: S608 - constant SQL
_BY_HASH = f"SELECT {_COLUMNS} FROM access_tokens WHERE secret_hash = ?"  # noqa: S608 - constant SQL
_LIST = f"SELECT {_COLUMNS} FROM access_tokens WHERE owner = ? OR (? AND owner = '') ORDER BY owner, name"  # noqa: S608
_LIST_ALL = f"SELECT {_COLUMNS} FROM access_tokens WHERE ? OR owner <> '' ORDER BY owner, name"  # noqa: S608
_ROBOT = ""
"""The owner column of robot tokens."""


def _record(row: Row) -> AccessTokenRecord:
    token_id, name, owner, repositories, actions, created_at, created_by, expires_at, last_used_at = row
    return AccessTokenRecord(
        token_id=token_id,
        name=name,
        owner=owner or None,
        repositories=tuple(json.loads(repositories)),
        actions=tuple(actions.split(",")),
        created_at=created_at,
        created_by=created_by,
        expires_at=expires_at,
        last_used_at=last_used_at,
    )


class AccessTokenQueries(SqlCore, AccessTokens):
    async def add_access_token(
        self, record: AccessTokenRecord, secret_hash: str, audit: Sequence[AuditEntry] = ()
    ) -> None:
        values = (
            secret_hash,
            record.token_id,
            record.name,
            record.owner or _ROBOT,
            json.dumps(list(record.repositories)),
            ",".join(record.actions),
            record.created_at,
            record.created_by,
            record.expires_at,
            record.last_used_at,
        )

        async def run(tx: Transaction) -> bool:
            added = await tx.fetch_one(_INSERT, values) is not None
            if added:
                await insert_audit(tx, audit)
            return added

        if not await self._write(run, invalidates=False):
            raise DuplicateAccessToken(f"a token named {record.name!r} exists already")

    async def access_token_by_hash(self, secret_hash: str) -> AccessTokenRecord | None:
        row = await self._read_one(_BY_HASH, secret_hash)
        return _record(row) if row is not None else None

    async def access_tokens(self, owner: str | None = None, *, robots: bool = True) -> list[AccessTokenRecord]:
        if owner is None:
            rows = await self._read_all(_LIST_ALL, robots)
        else:
            rows = await self._read_all(_LIST, owner, robots)
        return [_record(row) for row in rows]

    async def revoke_access_token(
        self, token_id: str, owner: str | None = None, audit: Sequence[AuditEntry] = ()
    ) -> bool:
        async def run(tx: Transaction) -> bool:
            if owner is None:
                deleted = await tx.execute("DELETE FROM access_tokens WHERE token_id = ?", (token_id,))
            else:
                deleted = await tx.execute(
                    "DELETE FROM access_tokens WHERE token_id = ? AND owner = ?", (token_id, owner)
                )
            if deleted:
                await insert_audit(tx, audit)
            return deleted > 0

        return await self._write(run, invalidates=False)

    async def record_access_token_uses(self, uses: Mapping[str, float]) -> None:
        async def run(tx: Transaction) -> None:
            await tx.execute_many(
                """UPDATE access_tokens SET last_used_at = ?
                   WHERE token_id = ? AND (last_used_at IS NULL OR last_used_at < ?)""",
                [(at, token_id, at) for token_id, at in sorted(uses.items())],
            )

        await self._write(run, invalidates=False)

"""Credential versions and revoked tokens: small tables, read once per check, written at logouts
and password changes."""

from __future__ import annotations

import time

from dockyard.meta.driver import Transaction
from dockyard.meta.revocations import CredentialState, Revocations
from dockyard.meta.sql.core import SqlCore

_STATE = """SELECT (SELECT version FROM credential_versions WHERE subject = ?),
                   (SELECT 1 FROM revoked_tokens WHERE token_id = ? AND expires_at > ?)"""
_BUMP = """INSERT INTO credential_versions (subject, version, updated_at) VALUES (?, 1, ?)
    ON CONFLICT (subject) DO UPDATE SET version = credential_versions.version + 1, updated_at = excluded.updated_at
    RETURNING version"""


class RevocationQueries(SqlCore, Revocations):
    async def credential_state(self, subject: str, token_id: str) -> CredentialState:
        row = await self._read_one(_STATE, subject, token_id, time.time())
        assert row is not None
        return CredentialState(version=int(row[0] or 0), revoked=row[1] is not None)

    async def bump_credential_version(self, subject: str) -> int:
        async def run(tx: Transaction) -> int:
            row = await tx.fetch_one(_BUMP, (subject, time.time()))
            assert row is not None
            return int(row[0])

        return await self._write(run, invalidates=False)

    async def revoke_token(self, token_id: str, expires_at: float) -> None:
        async def run(tx: Transaction) -> None:
            await tx.execute("DELETE FROM revoked_tokens WHERE expires_at <= ?", (time.time(),))
            await tx.execute(
                "INSERT INTO revoked_tokens (token_id, expires_at) VALUES (?, ?) ON CONFLICT (token_id) DO NOTHING",
                (token_id, expires_at),
            )

        await self._write(run, invalidates=False)

"""Users an identity provider vouched for: one row per user, written at each of its logins."""

from __future__ import annotations

import json
import time

from dockyard.meta.driver import Transaction
from dockyard.meta.provider_users import ProviderUser, ProviderUsers
from dockyard.meta.sql.core import SqlCore

_REMEMBER = """INSERT INTO provider_users (name, groups, logged_in_at) VALUES (?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET groups = excluded.groups, logged_in_at = excluded.logged_in_at"""


class ProviderUserQueries(SqlCore, ProviderUsers):
    async def remember_provider_user(self, name: str, groups: frozenset[str]) -> None:
        async def run(tx: Transaction) -> None:
            await tx.execute(_REMEMBER, (name, json.dumps(sorted(groups)), time.time()))

        await self._write(run, invalidates=False)

    async def provider_user(self, name: str) -> ProviderUser | None:
        row = await self._read_one("SELECT groups, logged_in_at FROM provider_users WHERE name = ?", name)
        if row is None:
            return None
        return ProviderUser(frozenset(json.loads(row[0])), float(row[1]))

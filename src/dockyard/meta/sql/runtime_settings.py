"""Runtime settings, one row each in `settings`, read through a short cache."""

from __future__ import annotations

import time
from collections.abc import Sequence

from dockyard.meta.driver import Transaction
from dockyard.meta.records import WriteRecord
from dockyard.meta.runtime_settings import RuntimeSettings
from dockyard.meta.sql.core import SqlCore, insert_records

# Another process's or instance's switch of read-only mode is seen within this long.
SETTINGS_CACHE_SECONDS = 1.0
_READ_ONLY = "read_only"
_SETTING = "SELECT value FROM settings WHERE name = ?"
_SET_SETTING = """INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"""


class RuntimeSettingsQueries(SqlCore, RuntimeSettings):
    _read_only_state = False
    _read_only_expire = 0.0

    async def read_only(self) -> bool:
        # Asked before every write and by background workers: a query a second at most.
        now = time.monotonic()
        if now > self._read_only_expire:
            row = await self._read_one(_SETTING, _READ_ONLY)
            self._read_only_state = row is not None and row[0] == "on"
            self._read_only_expire = now + SETTINGS_CACHE_SECONDS
        return self._read_only_state

    async def set_read_only(self, enabled: bool, records: Sequence[WriteRecord] = ()) -> None:
        async def run(tx: Transaction) -> None:
            await tx.execute(_SET_SETTING, (_READ_ONLY, "on" if enabled else "off", time.time()))
            await insert_records(tx, records)

        await self._write(run, invalidates=False)
        self._read_only_state, self._read_only_expire = enabled, time.monotonic() + SETTINGS_CACHE_SECONDS

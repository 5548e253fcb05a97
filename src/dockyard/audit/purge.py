"""The audit log's own retention: entries older than `audit.retention_days` are removed, and each
purge that removed any is itself an entry."""

from __future__ import annotations

import time

from dockyard.audit.trail import dockyard_entry
from dockyard.meta.audit import AuditLog

_DAY = 86400.0
PURGE_INTERVAL_SECONDS = 3600.0
PURGE = "audit-purge"


async def purge(log: AuditLog, retention_days: int, now: float | None = None) -> int:
    """Remove the entries past retention; how many."""
    removed = await log.purge_audit((time.time() if now is None else now) - retention_days * _DAY)
    if removed:
        await log.append_audit([dockyard_entry(PURGE, f"removed {removed} entries older than {retention_days} days")])
    return removed

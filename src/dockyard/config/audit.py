"""Audit log settings: how long entries are kept, and where pulls are recorded too."""

from __future__ import annotations

from pydantic import Field

from dockyard.config.section import Section


class Audit(Section):
    retention_days: int = Field(default=365, ge=1)
    """Entries older than this are purged (by every server, about hourly; or `dockyard audit purge`)."""
    pulls: list[str] = []
    """Repository globs whose manifest pulls are recorded as well; none by default, for their volume."""

"""Audit entries written out, one JSON object per line for machines or aligned text for people; and
the times people give to pick entries."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from dockyard.meta.audit import AuditRecord


def as_json(record: AuditRecord) -> dict[str, Any]:
    entry = record.entry
    return {
        "id": record.id,
        "time": _iso(record.at),
        "action": entry.action,
        "actor": entry.actor,
        "client": entry.client,
        "request_id": entry.request_id,
        "repository": entry.repository,
        "digest": entry.digest,
        "tag": entry.tag,
        "previous": record.previous,
        "detail": entry.detail,
    }


def json_line(record: AuditRecord) -> str:
    return json.dumps(as_json(record), separators=(",", ":"))


def text_line(record: AuditRecord) -> str:
    entry = record.entry
    what = (entry.repository or "") + (f":{entry.tag}" if entry.tag else "")
    what += f"@{entry.digest}" if entry.digest else ""
    moved = f"(moved from {record.previous})" if record.previous else ""
    details = " ".join(part for part in (what, moved, entry.detail) if part)
    who = f"{entry.actor or '-':<16} {entry.client or '-':<22}"
    return f"{_iso(record.at)}  {entry.action:<13} {who} {details}".rstrip()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_AGE = re.compile(r"(\d{1,9})([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> float:
    """An ISO 8601 time (UTC unless it says otherwise) or an age such as 90m, 12h, 7d: epoch seconds.
    Raises ValueError for anything else."""
    age = _AGE.fullmatch(text.strip())
    if age:
        return time.time() - int(age[1]) * _UNIT_SECONDS[age[2]]
    moment = datetime.fromisoformat(text.strip())
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

"""Repository globs, as auth rules and replication rules write them."""

from __future__ import annotations

import re


def glob_pattern(glob: str) -> re.Pattern[str]:
    """`*` matches within one path segment, `**` across segments (and `team/**` matches `team/x/y`)."""
    parts = []
    for piece in re.split(r"(\*\*|\*)", glob):
        if piece == "**":
            parts.append(".*")
        elif piece == "*":
            parts.append("[^/]*")
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts))

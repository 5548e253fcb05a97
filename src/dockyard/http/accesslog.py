"""The access log and request ids: one line per request, formatted in a few microseconds.

Lines are built with f-strings (no `logging` records, handlers or locks) and handed to a
LineWriter, which writes them off the event loop. Query strings are never logged: they may carry
credentials. Neither is any header besides the User-Agent. Pulls of pull-through cache repositories
end with `cache=hit|miss|stale` (text) or a "cache" field (JSON).
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from typing import Literal

from dockyard.http.messages import Request
from dockyard.telemetry.linewriter import LineWriter
from dockyard.telemetry.logformat import Clock, json_string, text_field

LogFormat = Literal["text", "json"]

REQUEST_ID_HEADER = "x-request-id"
# Ids from clients and proxies are echoed into logs and responses: short, and no characters
# that could break either.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# What a line carries of the client's own words (path, User-Agent), so that no request writes a huge line.
_PATH_SHOWN = 1024
_AGENT_SHOWN = 256
_REMEMBERED_FIELDS = 1024


class RequestIds:
    """Generated ids are a random per-process prefix and a counter: unique across workers and
    instances, and far cheaper than a uuid4 per request."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(6)
        self._counter = itertools.count(1)

    def for_request(self, given: str | None) -> str:
        if given is not None and _CLIENT_REQUEST_ID.fullmatch(given):
            return given
        return f"{self._prefix}-{next(self._counter):x}"


class AccessLog:
    def __init__(self, writer: LineWriter, log_format: LogFormat):
        self._writer = writer
        self._clock = Clock()
        self._escaped: dict[str, str] = {}
        self.record = self._json if log_format == "json" else self._text

    def close(self) -> None:
        self._writer.close()

    def reopen(self) -> None:
        self._writer.reopen()

    def _text_field(self, value: str) -> str:
        """`text_field(value)`, remembered: paths and user agents repeat from request to request."""
        escaped = self._escaped.get(value)
        if escaped is None:
            if len(self._escaped) >= _REMEMBERED_FIELDS:
                self._escaped.clear()
            escaped = self._escaped[value] = text_field(value)
        return escaped

    def _text(self, req: Request, status: int, sent: int, seconds: float) -> None:
        principal, agent, cache = req.principal, req.headers.get("user-agent"), req.cache
        user = self._text_field(principal.name) if principal else "-"
        self._writer.write(
            f"{self._clock.timestamp(time.time())} {req.client} {user}"
            f' "{req.method} {self._text_field(req.path[:_PATH_SHOWN])}" {status} {sent} {seconds * 1000:.3f}ms'
            f' {req.request_id} "{self._text_field(agent[:_AGENT_SHOWN]) if agent else "-"}"'
            f"{f' cache={cache.outcome}' if cache else ''}\n"
        )

    def _json(self, req: Request, status: int, sent: int, seconds: float) -> None:
        principal, agent, cache = req.principal, req.headers.get("user-agent"), req.cache
        level = "error" if status >= 500 else "info"
        user_field = f',"user":{json_string(principal.name)}' if principal else ""
        agent_field = f',"user_agent":{json_string(agent[:_AGENT_SHOWN])}' if agent else ""
        cache_field = f',"cache":"{cache.outcome}"' if cache else ""
        self._writer.write(
            f'{{"time":"{self._clock.timestamp(time.time())}","level":"{level}","request_id":"{req.request_id}",'
            f'"method":"{req.method}","path":{json_string(req.path[:_PATH_SHOWN])},"status":{status},'
            f'"bytes":{sent},"duration_ms":{seconds * 1000:.3f},"client":"{req.client}"{user_field}{agent_field}'
            f"{cache_field}}}\n"
        )

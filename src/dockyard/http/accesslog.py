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

from granian.rsgi import Scope

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
        self.record = self._json if log_format == "json" else self._text

    def close(self) -> None:
        self._writer.close()

    def reopen(self) -> None:
        self._writer.reopen()

    def _text(
        self,
        request_id: str,
        scope: Scope,
        status: int,
        sent: int,
        seconds: float,
        *,
        client: str,
        user: str | None,
        cache: str | None = None,
    ) -> None:
        agent = scope.headers.get("user-agent")
        self._writer.write(
            f"{self._clock.timestamp(time.time())} {client} {text_field(user) if user else '-'}"
            f' "{scope.method} {text_field(scope.path[:_PATH_SHOWN])}" {status} {sent} {seconds * 1000:.3f}ms'
            f' {request_id} "{text_field(agent[:_AGENT_SHOWN]) if agent else "-"}"'
            f"{f' cache={cache}' if cache else ''}\n"
        )

    def _json(
        self,
        request_id: str,
        scope: Scope,
        status: int,
        sent: int,
        seconds: float,
        *,
        client: str,
        user: str | None,
        cache: str | None = None,
    ) -> None:
        agent = scope.headers.get("user-agent")
        level = "error" if status >= 500 else "info"
        user_field = f',"user":{json_string(user)}' if user else ""
        agent_field = f',"user_agent":{json_string(agent[:_AGENT_SHOWN])}' if agent else ""
        cache_field = f',"cache":"{cache}"' if cache else ""
        self._writer.write(
            f'{{"time":"{self._clock.timestamp(time.time())}","level":"{level}","request_id":"{request_id}",'
            f'"method":"{scope.method}","path":{json_string(scope.path[:_PATH_SHOWN])},"status":{status},'
            f'"bytes":{sent},"duration_ms":{seconds * 1000:.3f},"client":"{client}"{user_field}{agent_field}'
            f"{cache_field}}}\n"
        )

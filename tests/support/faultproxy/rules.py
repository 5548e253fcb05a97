"""What the fault proxy matches requests with, the faults it injects, and what it records.

Patterns are globs (`fnmatch`, where `*` also crosses `/`, so `/v2/*/blobs/*` covers
`library/alpine`) or compiled regular expressions (matched whole). A path is matched as sent,
percent-encoding included, without its query; the query has a pattern of its own.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from xml.sax.saxutils import escape

Pattern = str | re.Pattern[str]


def matches(pattern: Pattern, text: str) -> bool:
    if isinstance(pattern, re.Pattern):
        return pattern.fullmatch(text) is not None
    return fnmatch.fnmatchcase(text, pattern)


@dataclass(frozen=True)
class Request:
    """The head of a request the proxy received (header names in lower case)."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]) -> Request:
        path, _, query = target.decode("latin-1").partition("?")
        items = tuple((name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in headers)
        return cls(method.decode("ascii"), path, query, items)

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name.lower()), None)


@dataclass(frozen=True)
class Match:
    """Which requests a rule or a count concerns: method ("*" = any), path, and optionally query and headers."""

    method: str = "*"
    path: Pattern = "*"
    query: Pattern | None = None
    headers: Mapping[str, Pattern] = field(default_factory=dict)

    def __call__(self, request: Request) -> bool:
        if self.method != "*" and request.method != self.method.upper():
            return False
        if not matches(self.path, request.path):
            return False
        if self.query is not None and not matches(self.query, request.query):
            return False
        for name, pattern in self.headers.items():
            value = request.header(name)
            if value is None or not matches(pattern, value):
                return False
        return True


# -- faults ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PassThrough:
    """Forward unchanged (a rule with it shields matching requests from the rules after it)."""


@dataclass(frozen=True)
class Respond:
    """Answer from the proxy itself; the request never reaches upstream (its body is read and dropped)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reset:
    """Reset the connection (TCP RST) before any byte of the response.

    Not forwarded by default: the reset comes as soon as the request head is read. With `forward`,
    upstream gets and answers the whole request and the client hears only the reset (a lost reply).
    """

    forward: bool = False


@dataclass(frozen=True)
class CutBody:
    """Forward, send the response head and the first `after_bytes` bytes of its body, then reset."""

    after_bytes: int


@dataclass(frozen=True)
class Stall:
    """Hold an exchange for `seconds` (None: until the rule is released), then let it go on.

    By default the response is held before its first byte, after upstream answered (a delayed or
    stalled answer); with `after_bytes`, after that many bytes of its body (a transfer that stops
    mid-way); with `hold_request`, the request before it reaches upstream, its body left unread.
    A client with a shorter timeout gives up meanwhile.
    """

    seconds: float | None = None
    after_bytes: int | None = None
    hold_request: bool = False

    def __post_init__(self) -> None:
        if self.hold_request and self.after_bytes is not None:
            raise ValueError("a held request has no response body yet: after_bytes or hold_request, not both")

    @property
    def point(self) -> Literal["request", "response", "body"]:
        """Where the exchange is held."""
        if self.hold_request:
            return "request"
        return "response" if self.after_bytes is None else "body"


Fault = PassThrough | Respond | Reset | CutBody | Stall


def too_many_requests(retry_after: int = 1) -> Respond:
    """A registry's 429 with `Retry-After` (seconds) and the distribution spec's error body."""
    error = {"code": "TOOMANYREQUESTS", "message": "too many requests (injected)"}
    return Respond(
        429,
        json.dumps({"errors": [error]}).encode(),
        {"Content-Type": "application/json", "Retry-After": str(retry_after)},
    )


def s3_error(status: int = 503, code: str = "SlowDown", message: str = "Please reduce your request rate.") -> Respond:
    """An S3 error document as RGW and AWS send it (e.g. 503 SlowDown, 500 InternalError)."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        "<RequestId>injected</RequestId></Error>"
    )
    return Respond(status, body.encode(), {"Content-Type": "application/xml"})


# -- rules and records ---------------------------------------------------------------------------


class Rule:
    """A fault for matching requests: every one, or after `skip` of them the next `times`, each with `probability`.

    The proxy decides under its lock, so `times` is exact under concurrency; `seed` makes the
    probability draws repeatable for requests arriving in the same order.
    """

    def __init__(
        self,
        match: Match,
        fault: Fault,
        *,
        times: int | None = None,
        skip: int = 0,
        probability: float = 1.0,
        seed: int = 0,
    ):
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for every request)")
        if not 0.0 < probability <= 1.0:
            raise ValueError("probability must be in (0, 1]")
        self.match = match
        self.fault = fault
        self.times = times
        self.skip = skip
        self.probability = probability
        self.seen = 0  # matching requests so far
        self.hits = 0  # of which the fault was applied to
        self._random = random.Random(seed)
        self._gate = asyncio.Event()  # bound to the proxy's loop on first wait, set from there only
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"Rule({self.match!r}, {self.fault!r}, hits={self.hits})"

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def take(self, request: Request) -> bool:
        """Whether this rule applies its fault to `request` (call under the proxy's lock)."""
        if not self.match(request):
            return False
        self.seen += 1
        if self.seen <= self.skip or (self.times is not None and self.hits >= self.times):
            return False
        if self.probability < 1.0 and self._random.random() >= self.probability:
            return False
        self.hits += 1
        return True

    def release(self) -> None:
        """End the stalls of this rule, those in progress and those to come."""
        if self._loop is None:
            self._gate.set()  # never used by a proxy, so no waiter can be on another loop
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._gate.set)

    async def hold(self, seconds: float | None) -> None:
        """Wait until released, or `seconds` have passed."""
        try:
            async with asyncio.timeout(seconds):
                await self._gate.wait()
        except TimeoutError:
            pass


PASS_THROUGH = Rule(Match(), PassThrough())  # what requests no rule takes get


@dataclass
class Exchange:
    """One request the proxy received and what became of it.

    Filled in before the client can see anything of it: recorded when the request head arrives, the
    status set before the response head is written, `body_bytes` counted before each write.
    `status` stays None when no response head was sent (a reset, or the client went away).
    """

    request: Request
    fault: str | None = None
    status: int | None = None
    body_bytes: int = 0

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        return self.request.path

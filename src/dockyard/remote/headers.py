"""Reading the headers and error bodies a remote registry answers with. Pure functions, no I/O."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from dockyard.core.decimals import parse_decimal

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # noqa: S105 - RFC 9110's token grammar, no password
_SCHEME = re.compile(rf"[\s,]*({_TOKEN})")
_PARAM = re.compile(rf"[\s,]*({_TOKEN})\s*=\s*(\"(?:[^\"\\]|\\.)*\"|{_TOKEN})")
_TOKEN68 = re.compile(r" +[A-Za-z0-9\-._~+/]+=*(?=\s*(?:,|$))")
_QUOTED_PAIR = re.compile(r"\\(.)")
# ASCII digits (`\d` takes any script's); numbers are converted by parse_decimal, which bounds them.
_CONTENT_RANGE = re.compile(r"bytes ([0-9]+)-([0-9]+)/([0-9]+|\*)")
_UPLOAD_RANGE = re.compile(r"(?:bytes=)?0-(-?)([0-9]+)")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a `WWW-Authenticate` header: its scheme (lower case) and parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(values: list[str]) -> list[Challenge]:
    """All challenges of the `WWW-Authenticate` headers (RFC 9110 11.6.1); what cannot be read is
    skipped, so one odd challenge does not hide a Bearer or Basic one beside it."""
    challenges: list[Challenge] = []
    for text in values:
        position = 0
        while position < len(text):
            scheme = _SCHEME.match(text, position)
            if scheme is None:  # a token68 or garbage: skip past the next comma
                comma = text.find(",", position + 1)
                position = len(text) if comma < 0 else comma + 1
                continue
            position = scheme.end()
            token68 = _TOKEN68.match(text, position)
            if token68 is not None and _PARAM.match(text, position) is None:
                position = token68.end()  # credentials-like blob of another scheme: not ours to read
            params: dict[str, str] = {}
            while (param := _PARAM.match(text, position)) is not None:
                value = param.group(2)
                if value.startswith('"'):
                    value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
                params[param.group(1).lower()] = value
                position = param.end()
            challenges.append(Challenge(scheme.group(1).lower(), params))
    return challenges


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from `Retry-After`: delay-seconds or an HTTP-date (`now` is the epoch time)."""
    if value is None:
        return None
    value = value.strip()
    seconds = parse_decimal(value)
    if seconds is not None:
        return float(seconds)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # HTTP-dates are GMT; a date without a zone is read as such
        return None
    return max(moment.timestamp() - now, 0.0)


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """(first, last, total) of a 206's `Content-Range: bytes first-last/total` (total None for `*`)."""
    match = _CONTENT_RANGE.fullmatch(value.strip()) if value else None
    if match is None:
        return None
    first, last = parse_decimal(match.group(1)), parse_decimal(match.group(2))
    total = None if match.group(3) == "*" else parse_decimal(match.group(3))
    if first is None or last is None or last < first or (match.group(3) != "*" and (total is None or last >= total)):
        return None
    return first, last, total


def upload_offset(value: str | None) -> int | None:
    """How many bytes an upload session holds, from its `Range: 0-<last>`.

    Registries answer `0-0` both for an empty session and for one holding a single byte; it is read
    as empty (a wrong guess makes the next chunk conflict, and the upload starts over)."""
    match = _UPLOAD_RANGE.fullmatch(value.strip()) if value else None
    last = parse_decimal(match.group(2)) if match else None
    if match is None or last is None:
        return None
    return 0 if match.group(1) or last == 0 else last + 1


def media_type(content_type: str | None) -> str | None:
    """The media type of a `Content-Type`, without parameters."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip() or None


@dataclass(frozen=True, slots=True)
class ErrorBody:
    codes: tuple[str, ...]
    messages: tuple[str, ...]

    def describe(self) -> str:
        parts = [
            f"{code}: {message}" if message else code for code, message in zip(self.codes, self.messages, strict=True)
        ]
        return "; ".join(parts)


def parse_error_body(body: bytes) -> ErrorBody:
    """The codes and messages of the spec's `{"errors": [{"code", "message"}]}`; empty if it is not one."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return ErrorBody((), ())
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return ErrorBody((), ())
    codes: list[str] = []
    messages: list[str] = []
    for error in errors[:10]:
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            codes.append(error["code"])
            message = error.get("message")
            messages.append(message if isinstance(message, str) else "")
    return ErrorBody(tuple(codes), tuple(messages))

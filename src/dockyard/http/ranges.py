"""Byte ranges: `Range` on blob downloads and `Content-Range` on upload chunks."""

from __future__ import annotations

import re

from dockyard.core.decimals import MAX_DIGITS, parse_decimal

# ASCII digits only: `\d` also matches other scripts' digits.
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
# Clients send `bytes a-b`, and the conformance suite a bare `a-b`; `/total` may follow.
_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?([0-9]+)-([0-9]+)(?:/(?:[0-9]+|\*))?")
# Every position past this is past the end of any blob: longer numbers are never converted.
_FAR = 10**MAX_DIGITS


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The single byte range [start, end) asked for, or None to send the whole blob.

    Several ranges at once are answered with the whole blob, which RFC 9110 allows;
    anything malformed or outside the blob is not satisfiable.
    """
    header = header.strip()
    if "," in header:
        return None
    match = _RANGE.fullmatch(header)
    if not match or match.group(1) == match.group(2) == "":
        raise RangeNotSatisfiable(header)
    first, last = match.groups()
    if first == "":  # a suffix: the last N bytes
        length = _position(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(size - length, 0), size
    start = _position(first)
    end = size if last == "" else min(_position(last) + 1, size)
    if start >= size or end <= start:
        raise RangeNotSatisfiable(header)
    return start, end


def parse_content_range(header: str) -> tuple[int, int] | None:
    """The inclusive (first, last) byte positions of an upload chunk, or None if malformed."""
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if not match:
        return None
    first, last = _position(match.group(1)), _position(match.group(2))
    return (first, last) if last >= first else None


def _position(digits: str) -> int:
    value = parse_decimal(digits)
    return _FAR if value is None else value


def upload_range(size: int) -> str:
    """The `Range` header of an upload: the inclusive range received so far ('0-0' when empty)."""
    return f"0-{max(size - 1, 0)}"

"""Non-negative decimal numbers as clients write them in headers and query parameters."""

from __future__ import annotations

MAX_DIGITS = 18
"""Enough for any size or count (10^18 bytes is an exabyte), and a 64-bit integer holds it."""


def parse_decimal(text: str, max_digits: int = MAX_DIGITS) -> int | None:
    """The value of a string of ASCII digits, None for anything else.

    `str.isdigit` and `int` accept more than HTTP's digits (superscripts, other scripts' digits,
    surrounding spaces, underscores) and `int` refuses strings of thousands of digits with a
    ValueError: neither may reach a handler. Leading zeros do not count towards `max_digits`.
    """
    if not text or not text.isascii() or not text.isdigit():
        return None
    significant = text.lstrip("0")
    if len(significant) > max_digits:
        return None
    return int(significant or "0")

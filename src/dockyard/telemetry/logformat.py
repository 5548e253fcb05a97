"""Cheap pieces of log lines: timestamps, escaped strings, and the `logging` formatters.

Access lines are built from these directly on the event loop; the `logging` formatters use the
same pieces so that every line of one server looks alike in either format.
"""

from __future__ import annotations

import json
import logging
import time

# A message longer than this is cut: whatever a client managed to get into one stays a line, not a flood.
MESSAGE_MAX_CHARS = 4096


class Clock:
    """UTC timestamps to the millisecond: the second's text is formatted once per second, and a
    millisecond's once (a busy server logs many lines within one)."""

    __slots__ = ("_millis", "_second", "_stamp", "_text")

    def __init__(self) -> None:
        self._millis = -1
        self._second = -1
        self._text = ""
        self._stamp = ""

    def timestamp(self, now: float) -> str:
        millis = int(now * 1000)
        if millis != self._millis:
            self._millis = millis
            second, within = divmod(millis, 1000)
            if second != self._second:
                self._second = second
                self._text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._stamp = f"{self._text}.{within:03d}Z"
        return self._stamp


def _plain(value: str) -> bool:
    # Printable ASCII without quote or backslash needs no escaping in JSON or in a quoted text field.
    return value.isascii() and value.isprintable() and '"' not in value and "\\" not in value


def json_string(value: str) -> str:
    """`value` as a JSON string literal."""
    return f'"{value}"' if _plain(value) else json.dumps(value)


def message_of(record: logging.LogRecord) -> str:
    message = record.getMessage()
    if len(message) <= MESSAGE_MAX_CHARS:
        return message
    return f"{message[:MESSAGE_MAX_CHARS]}... ({len(message) - MESSAGE_MAX_CHARS} more characters)"


def text_field(value: str) -> str:
    """`value` safe inside a quoted field of a text line: control characters cannot forge a line."""
    return value if _plain(value) else json.dumps(value)[1:-1]


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the request id when the caller gave one."""

    def __init__(self) -> None:
        super().__init__()
        self._clock = Clock()

    def format(self, record: logging.LogRecord) -> str:
        fields = [
            f'"time":"{self._clock.timestamp(record.created)}"',
            f'"level":"{record.levelname.lower()}"',
            f'"logger":{json_string(record.name)}',
            f'"message":{json_string(message_of(record))}',
        ]
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            fields.append(f'"request_id":{json_string(request_id)}')
        if record.exc_info:
            fields.append(f'"exception":{json_string(self.formatException(record.exc_info))}')
        return "{" + ",".join(fields) + "}"


class TextFormatter(logging.Formatter):
    """`time level logger: message [request_id=...]`, the time as in access lines."""

    def __init__(self) -> None:
        super().__init__()
        self._clock = Clock()

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self._clock.timestamp(record.created)} {record.levelname} {record.name}: {message_of(record)}"
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            line += f" request_id={request_id}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line

"""The configuration of `logging` in every server process: dockyard's and granian's messages in one
format on standard error. The access log is not among them: it bypasses `logging` (http/accesslog.py)."""

from __future__ import annotations

import logging
from typing import Any

_FORMATTERS = {
    "text": "dockyard.telemetry.logformat.TextFormatter",
    "json": "dockyard.telemetry.logformat.JsonFormatter",
}


def logging_config(level: str, log_format: str = "text") -> dict[str, Any]:
    """For `logging.config.dictConfig`, which granian applies in each worker."""
    handler = {"class": "logging.StreamHandler", "formatter": log_format, "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {name: {"()": factory} for name, factory in _FORMATTERS.items()},
        "handlers": {"console": handler},
        "loggers": {
            "dockyard": {"handlers": ["console"], "level": level.upper(), "propagate": False},
            "_granian": {"handlers": ["console"], "level": level.upper(), "propagate": False},
        },
    }


def lighten_logging() -> None:
    """Skip gathering what dockyard's log lines never show (the logging manual's advice for hot paths)."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False

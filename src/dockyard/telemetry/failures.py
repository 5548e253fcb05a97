"""How background work logs its failures: a store fault in one line, anything else with its traceback.

A full disk or a store that is down makes every round of the GC, the purge or the pull-time flush
fail until it recovers; a traceback each time would bury the one line that says what is wrong.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dockyard.core.errors import store_fault

_log = logging.getLogger("dockyard")


def log_failure(log: logging.Logger, what: str, error: BaseException) -> None:
    """Log that `what` failed with `error` (call it from the except clause that caught it)."""
    fault = store_fault(error)
    if fault is None:
        log.error("%s failed", what, exc_info=error)
    else:
        log.warning("%s failed: %s: %s", what, type(fault).__name__, fault)


def quiet_connection_faults(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's handler of errors nobody retrieved: a connection fault that a library left in
    a task of its own (aiohttp's request writer, when a store closes the connection under it) is one
    line; anything else goes to the default handler, traceback and all."""
    error = context.get("exception")
    if isinstance(error, ConnectionError):
        _log.warning("%s: %s: %s", context.get("message", "a background task failed"), type(error).__name__, error)
        return
    loop.default_exception_handler(context)

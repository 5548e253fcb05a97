"""How background work logs its failures: a store fault in one line, anything else with its traceback.

A full disk or a store that is down makes every round of the GC, the purge or the pull-time flush
fail until it recovers; a traceback each time would bury the one line that says what is wrong.
"""

from __future__ import annotations

import logging

from dockyard.core.errors import store_fault


def log_failure(log: logging.Logger, what: str, error: BaseException) -> None:
    """Log that `what` failed with `error` (call it from the except clause that caught it)."""
    fault = store_fault(error)
    if fault is None:
        log.error("%s failed", what, exc_info=error)
    else:
        log.warning("%s failed: %s: %s", what, type(fault).__name__, fault)

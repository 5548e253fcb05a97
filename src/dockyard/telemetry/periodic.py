"""Background work repeated on a timer, which outlives its failures: the GC worker's rounds and the
pull-through cache's flushes and evictions run the same loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from dockyard.telemetry.failures import log_failure


async def never_paused() -> bool:
    return False


async def every(
    seconds: float,
    what: str,
    work: Callable[[], Awaitable[object]],
    log: logging.Logger,
    paused: Callable[[], Awaitable[bool]] = never_paused,
) -> None:
    """Run `work` every `seconds` until cancelled, skipping rounds while `paused` (read-only mode);
    a failed round is logged (log_failure) and the next one tried."""
    while True:
        await asyncio.sleep(seconds)
        try:
            if await paused():
                log.debug("%s paused: read-only mode", what)
            else:
                await work()
        except Exception as error:
            log_failure(log, f"{what} (retried later)", error)

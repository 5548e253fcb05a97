"""Polling for a condition with a deadline: how tests wait for what happens asynchronously with no
event to wait on (a server coming up, a worker catching up, a cache expiring, a file being flushed).

A test never sleeps a fixed time in place of the state it means to reach, and never asserts how long
something took (performance is measured in bench/): it polls for the state itself, and the deadline
only bounds a wait that would otherwise never end. Pick deadlines far above the usual wait, so that
a busy machine slows a test down instead of failing it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

INTERVAL = 0.05
Message = str | Callable[[], str]


def poll(predicate: Callable[[], T], timeout: float, interval: float = INTERVAL) -> T | None:
    """The first truthy value of `predicate()`, asked every `interval` seconds, or None once
    `timeout` seconds have passed without one. `predicate` may raise to give up at once."""
    give_up_at = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() >= give_up_at:
            return None
        time.sleep(interval)
    return value


def wait_until(predicate: Callable[[], T], timeout: float, message: Message, interval: float = INTERVAL) -> T:
    """Like poll(), but the test fails with `message` (a string, or a function that describes the
    state at the deadline) when the deadline passes. On an event loop, run it in a thread
    (`await asyncio.to_thread(wait_until, ...)`) so that the loop goes on meanwhile."""
    value = poll(predicate, timeout, interval)
    if value is None:
        raise AssertionError(f"{message() if callable(message) else message} (waited {timeout:g}s)")
    return value

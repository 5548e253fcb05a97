"""Metrics every store shares: how long their operations take. With several worker processes,
prometheus_client's multiprocess mode (set up by server.py before the workers start) adds up the
series of all of them."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ParamSpec, TypeVar

from prometheus_client import Histogram

STORE_DURATION = Histogram(
    "dockyard_store_operation_duration_seconds",
    "Time a store operation took (metadata transactions, blob writes and commits)",
    ["store", "operation"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)

P = ParamSpec("P")
T = TypeVar("T")


Operation = Callable[P, Coroutine[Any, Any, T]]


def timed(store: str, operation: str) -> Callable[[Operation[P, T]], Operation[P, T]]:
    """Observe how long each call of a store coroutine takes, failed calls included. For I/O that
    takes milliseconds: the observation itself costs about a microsecond."""

    def decorate(call: Operation[P, T]) -> Operation[P, T]:
        @functools.wraps(call)
        async def observed(*args: P.args, **kwargs: P.kwargs) -> T:
            started = time.perf_counter()
            try:
                return await call(*args, **kwargs)
            finally:
                STORE_DURATION.labels(store, operation).observe(time.perf_counter() - started)

        return observed

    return decorate


def observe_many(histogram: Histogram, bucket_counts: Sequence[int], total: float) -> None:
    """Add many observations to a labelled histogram at once: `bucket_counts[i]` of them in its i-th
    bucket (the first whose bound is >= the value, +Inf last), `total` their sum.

    prometheus_client adds one observation per call, and in multiprocess mode every call takes a
    lock and writes a shared file for the sum and the bucket; a tally of many observations is added
    through the very per-bucket values and sum that `observe` updates (not cumulative in storage)."""
    histogram._sum.inc(total)
    for value, count in zip(histogram._buckets, bucket_counts, strict=True):
        if count:
            value.inc(count)

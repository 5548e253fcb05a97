"""What the shared SQL store asks of a database engine.

The store (meta/sql/) holds every query, written once in portable SQL with `?` placeholders; a driver
runs them on one engine. Transactions are coroutines so that one body serves both kinds of driver:
PostgreSQL awaits the network, SQLite steps the coroutine to its end on its writer thread (its
transaction methods never suspend).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Row = tuple[Any, ...]
Params = Sequence[Any]


class Transaction(Protocol):
    """Statements inside one write transaction; it commits when the work returns."""

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""

    async def execute_many(self, sql: str, rows: Sequence[Params]) -> None: ...

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None: ...

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]: ...


Work = Callable[[Transaction], Coroutine[Any, Any, T]]


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    skip_locked: str
    """Appended to a SELECT that claims rows for background work, so that workers on several
    instances skip each other's rows instead of waiting ("" where writers are serialized anyway)."""
    like_any_case: str = "LIKE"
    """The operator of a LIKE that ignores case (SQLite's LIKE does, for ASCII; PostgreSQL's ILIKE):
    cheaper per row than lowering every name, which a search reads all of."""
    review_lock: str = ""
    """Run first in a garbage review's transaction: reviews on several instances take turns, since
    the reviews their cascades enqueue (shared layers) would otherwise deadlock each other again and
    again ("" where writers are serialized anyway)."""


class Driver(Protocol):
    dialect: Dialect

    async def start(self) -> None:
        """Connect; called once on the event loop that will use the driver."""

    async def close(self) -> None: ...

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None: ...

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def transact(self, work: Work[T], invalidates: bool = True, durable: bool = True) -> T:
        """Run `work` as one transaction (retried whole if the engine asks); `invalidates` says
        whether it may change what manifest lookups answer; `durable=False` lets the commit return
        before it is on disk (bookkeeping a crash may lose: PostgreSQL's synchronous_commit off)."""

    def change_token(self) -> int:
        """Equal tokens mean no invalidating write was seen in between, in any process sharing the
        database; cheap enough to call on every lookup."""


def run_without_suspending(work: Coroutine[Any, Any, T]) -> T:
    """Drive a coroutine whose awaits all complete at once (a blocking driver's), off any event loop."""
    try:
        work.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    work.close()
    raise RuntimeError("a blocking driver's transaction awaited something that suspends")

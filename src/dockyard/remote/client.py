"""`RemoteClient`: everything dockyard asks of another registry, over one pooled connection set."""

from __future__ import annotations

from types import TracebackType

from dockyard.remote.observer import RemoteObserver
from dockyard.remote.push import PushOperations
from dockyard.remote.settings import RemoteSettings
from dockyard.remote.transport import Transport


class RemoteClient(PushOperations):
    """A client of one remote registry. Make one per remote and share it: it holds the connection
    pool, the tokens, the concurrency limit and the remote's health. It must be used (and closed) on
    one event loop; `async with RemoteClient(...) as remote:` closes it."""

    def __init__(self, settings: RemoteSettings, observer: RemoteObserver | None = None):
        self.settings = settings
        self._transport = Transport(settings, observer or RemoteObserver())

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> RemoteClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"RemoteClient({self.settings.base_url!r})"

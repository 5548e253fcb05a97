"""The client dockyard uses to talk to other registries (pull-through cache upstreams, replication
targets): the Docker token flow, typed failures, limits and a circuit breaker per remote.

It knows nothing of dockyard's stores; it depends on `core` and aiohttp only.
"""

from dockyard.remote.client import RemoteClient
from dockyard.remote.errors import RemoteDenied, RemoteError, RemoteInvalid, RemoteNotFound, RemoteUnavailable
from dockyard.remote.observer import RemoteCounters, RemoteObserver
from dockyard.remote.pull import MANIFEST_ACCEPT, BlobStream, FetchedManifest, ManifestHead, PullOperations
from dockyard.remote.push import ChunksFactory, PushOperations, UploadInterrupted, UploadSession
from dockyard.remote.settings import RemoteSettings, Secret

__all__ = [
    "MANIFEST_ACCEPT",
    "BlobStream",
    "ChunksFactory",
    "FetchedManifest",
    "ManifestHead",
    "PullOperations",
    "PushOperations",
    "RemoteClient",
    "RemoteCounters",
    "RemoteDenied",
    "RemoteError",
    "RemoteInvalid",
    "RemoteNotFound",
    "RemoteObserver",
    "RemoteSettings",
    "RemoteUnavailable",
    "Secret",
    "UploadInterrupted",
    "UploadSession",
]

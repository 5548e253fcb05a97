"""What every handler is given besides the request."""

from dataclasses import dataclass

from dockyard.events.pulls import PullRecorder
from dockyard.registry import Registry


@dataclass(frozen=True, slots=True)
class Context:
    registry: Registry
    manifest_max_bytes: int
    pulls: PullRecorder | None = None
    """Set when a notification endpoint subscribes to pulls."""
    url_scheme: str = "http"

"""What every handler is given besides the request."""

from dataclasses import dataclass

from dockyard.registry import Registry


@dataclass(frozen=True, slots=True)
class Context:
    registry: Registry
    manifest_max_bytes: int

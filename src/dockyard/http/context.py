"""What every handler is given besides the request."""

from dataclasses import dataclass

from dockyard.auth.service import Authenticator
from dockyard.registry import Registry
from dockyard.registry.access import ALLOW_ALL, Access


@dataclass(frozen=True, slots=True)
class Context:
    registry: Registry
    manifest_max_bytes: int
    access: Access = ALLOW_ALL
    """What the caller may do inside an operation; allows everything when auth is off."""
    auth: Authenticator | None = None
    """None when auth is off."""

"""What every handler is given besides the request."""

from dataclasses import dataclass

from dockyard.http.ui_assets import Asset
from dockyard.registry import Registry


@dataclass(frozen=True, slots=True)
class Context:
    registry: Registry
    manifest_max_bytes: int
    secure: bool = False
    """Served over TLS: cookies are marked Secure."""
    ui_assets: dict[str, Asset] | None = None
    """The web UI's files by name; None when the UI is disabled."""

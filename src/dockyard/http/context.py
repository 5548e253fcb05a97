"""What every handler is given besides the request."""

from collections.abc import Callable
from dataclasses import dataclass

from dockyard.audit.pulls import PullAudit
from dockyard.auth.service import Authenticator
from dockyard.events.pulls import PullRecorder
from dockyard.http.login_audit import UNRECORDED, LoginAudit
from dockyard.http.messages import Request
from dockyard.registry import Registry
from dockyard.registry.access import ALLOW_ALL, Access
from dockyard.registry.blobs import MayPull


def _everyone_may_pull(_request: Request) -> MayPull:
    return lambda _repository: True


@dataclass(frozen=True, slots=True)
class Context:
    registry: Registry
    manifest_max_bytes: int
    pull_permission: Callable[[Request], MayPull] = _everyone_may_pull
    """For a request, whether its caller may pull a given repository (mount sources, discovery)."""
    pulls: PullRecorder | None = None
    """Set when a notification endpoint subscribes to pulls."""
    url_scheme: str = "http"
    access: Access = ALLOW_ALL
    """What the caller may do inside an operation; allows everything when auth is off."""
    auth: Authenticator | None = None
    """None when auth is off."""
    secure: bool = False
    """Served over TLS: cookies are marked Secure."""
    login_audit: LoginAudit = UNRECORDED
    """Where failed logins are recorded (the audit log)."""
    pull_audit: PullAudit | None = None
    """Set when `audit.pulls` names repositories whose pulls are recorded."""

"""How to reach one remote registry: its URL, credentials, TLS, timeouts and limits.

A plain frozen dataclass, so that the configuration layer can build it from YAML and tests can build
it by hand. It validates itself on construction (ValueError) and never shows the password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dockyard.config.remotes import RemoteRegistry

_HIDDEN = "**********"

# Docker Hub serves its registry and its tokens from different hosts; trusting the token host for
# the registry host is what every user of Docker Hub would otherwise have to configure.
_KNOWN_TOKEN_REALMS = {"registry-1.docker.io": ("auth.docker.io",)}


@dataclass(frozen=True, slots=True)
class Secret:
    """A string that stays out of reprs, logs and error messages; `reveal()` is the only way in."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_HIDDEN!r})"

    def __str__(self) -> str:
        return _HIDDEN


@dataclass(frozen=True, slots=True)
class RemoteSettings:
    url: str
    """Where the remote's `/v2/` API lives: `https://registry.example.net` (scheme, host, optional port)."""
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    tls_verify: bool = True
    ca_file: Path | None = None
    """Extra CA certificates (PEM) to trust for this remote, in addition to the system's."""
    connect_timeout: float = 5.0
    """Seconds to open a TCP (and TLS) connection."""
    read_timeout: float = 30.0
    """The longest stall allowed between two reads of an answer, or two writes of a request body."""
    queue_timeout: float = 30.0
    """The longest wait for one of the `max_connections` slots before a call fails as unavailable."""
    max_connections: int = 16
    """Requests in flight to this remote at once (a streamed blob holds its slot until closed)."""
    trusted_token_realms: tuple[str, ...] = ()
    """Hosts (`auth.docker.io`, or `host:port`) besides the remote's own that may serve its tokens."""
    breaker_failures: int = 5
    """Consecutive failures (5xx, 429, timeouts, refused or reset connections) that open the breaker."""
    breaker_cooldown: float = 30.0
    """Seconds an open breaker fails calls fast before it lets one probe through."""
    max_retry_after: float = 3600.0
    """A `Retry-After` longer than this is shortened to it."""
    user_agent: str = "dockyard"

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"remote url must be http(s)://host[:port], not {self.url!r}")
        if parts.username is not None or parts.password is not None:
            raise ValueError("remote url must not carry credentials: use username and password")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"remote url must have no path, query or fragment: {self.url!r}")
        if parts.port is None and ":" in parts.netloc.rsplit("]", 1)[-1]:
            raise ValueError(f"remote url has an empty port: {self.url!r}")
        if (self.username is None) != (self.password is None):
            raise ValueError("remote username and password go together")
        for name in ("connect_timeout", "read_timeout", "queue_timeout", "breaker_cooldown", "max_retry_after"):
            if not getattr(self, name) > 0:
                raise ValueError(f"remote {name} must be positive")
        if self.max_connections < 1 or self.breaker_failures < 1:
            raise ValueError("remote max_connections and breaker_failures must be at least 1")

    @classmethod
    def of(cls, section: RemoteRegistry, user_agent: str = "dockyard") -> RemoteSettings:
        """The client's settings for a registry configured in `proxy.upstreams` or `replication.targets`."""
        host = urlsplit(section.url).hostname or ""
        return cls(
            url=section.url,
            username=section.username,
            password=None if section.password is None else Secret(section.password.get_secret_value()),
            tls_verify=section.tls_verify,
            ca_file=section.ca_file,
            connect_timeout=section.connect_timeout_seconds,
            read_timeout=section.read_timeout_seconds,
            max_connections=section.max_connections,
            breaker_failures=section.breaker_failures,
            breaker_cooldown=section.breaker_cooldown_seconds,
            trusted_token_realms=(*section.trusted_token_realms, *_KNOWN_TOKEN_REALMS.get(host, ())),
            user_agent=user_agent,
        )

    @property
    def base_url(self) -> str:
        """The URL without a trailing slash, to which `/v2/...` paths are appended."""
        return self.url.rstrip("/")

    @property
    def credentials(self) -> tuple[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return self.username, self.password.reveal()

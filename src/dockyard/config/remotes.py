"""How dockyard reaches another registry: the settings shared by pull-through cache upstreams and
replication targets (`dockyard.remote.RemoteSettings.of` turns them into the client's settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from dockyard.config.section import Section


class RemoteRegistry(Section):
    url: str = Field(pattern=r"^https?://[^/?#@]+/?$")
    """The registry's address, scheme and host (and port): `https://registry-1.docker.io`."""
    username: str | None = None
    password: SecretStr | None = None
    """Never logged, never printed, never sent anywhere but the registry and its token realm."""
    tls_verify: bool = True
    ca_file: Path | None = None
    """PEM certificates to trust for this registry besides the system's."""
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=30.0, gt=0)
    """The longest stall between two reads of an answer: a stalled registry fails after this."""
    max_connections: int = Field(default=16, ge=1)
    """Requests in flight to this registry at once."""
    trusted_token_realms: list[str] = []
    """Hosts besides the registry's own that may issue its tokens (`auth.docker.io` for Docker Hub)."""
    breaker_failures: int = Field(default=5, ge=1)
    """Consecutive failures (5xx, 429, timeouts, refused connections) after which the registry is not
    dialled for `breaker_cooldown_seconds`; then one call probes whether it is back."""
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> RemoteRegistry:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self

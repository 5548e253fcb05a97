"""Where users come from besides the htpasswd file: an LDAP directory (`auth.ldap`) and an OpenID
Provider for the web UI's login (`auth.oidc`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from dockyard.config.section import Section

USERNAME_PLACEHOLDER = "{username}"
DN_PLACEHOLDER = "{dn}"


class Ldap(Section):
    """A directory that verifies user names and passwords by a search and a bind."""

    url: str = Field(pattern=r"^ldaps?://[^/?#]+/?$")
    """`ldap://host:port` or `ldaps://host:port`."""
    start_tls: bool = False
    """Upgrade an `ldap://` connection with StartTLS before anything is sent."""
    ca_file: Path | None = None
    """CA certificates (PEM) the directory's certificate must chain to; unset: the system's."""
    bind_dn: str | None = None
    """The service account that searches; unset: an anonymous search."""
    bind_password: SecretStr | None = None
    user_base: str = Field(min_length=1)
    user_filter: str = "(uid={username})"
    """`{username}` stands for the user name, escaped as an LDAP filter value."""
    group_base: str | None = None
    """Unset: no groups come from the directory."""
    group_filter: str = "(member={dn})"
    """`{dn}` stands for the user's DN and `{username}` for the name, both escaped."""
    cache_seconds: int = Field(default=60, ge=0)
    """A verified bind (and the groups found) is reused this long; the password is never kept."""
    timeout_seconds: int = Field(default=5, ge=1, le=60)
    """Connecting and each operation; a directory slower than this counts as down."""

    @field_validator("user_filter")
    @classmethod
    def _names_the_user(cls, value: str) -> str:
        if USERNAME_PLACEHOLDER not in value:
            raise ValueError(f"user_filter must contain {USERNAME_PLACEHOLDER}")
        return value

    @field_validator("group_filter")
    @classmethod
    def _names_the_member(cls, value: str) -> str:
        if DN_PLACEHOLDER not in value and USERNAME_PLACEHOLDER not in value:
            raise ValueError(f"group_filter must contain {DN_PLACEHOLDER} or {USERNAME_PLACEHOLDER}")
        return value

    @model_validator(mode="after")
    def _tls_once(self) -> Ldap:
        if self.start_tls and self.url.startswith("ldaps://"):
            raise ValueError("start_tls is for ldap:// URLs; ldaps:// is TLS from the start")
        if (self.bind_dn is None) != (self.bind_password is None):
            raise ValueError("bind_dn and bind_password go together")
        return self


class Oidc(Section):
    """An OpenID Provider the web UI logs users in with (authorization code flow with PKCE)."""

    issuer: str = Field(pattern=r"^https?://\S+$")
    """The provider's issuer URL; its configuration is read from `/.well-known/openid-configuration`."""
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    """Unset: a public client (PKCE alone)."""
    groups_claim: str = "groups"
    """The ID token claim listing the user's groups, which become policy groups."""
    username_claim: str = "preferred_username"
    """The ID token claim that names the user (the policy's user name)."""
    scopes: list[str] = ["openid", "profile", "groups"]
    """Requested scopes; `openid` is always sent."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """Requests to the provider (discovery, keys, the code exchange)."""

"""Authentication and authorization settings: users, groups, rules, tokens, and the limits on logins."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ModelWrapValidatorHandler, PrivateAttr, model_validator

from dockyard.config.identity import Ldap, Oidc
from dockyard.config.section import Section

AuthAction = Literal["pull", "push", "delete", "overwrite"]


class AuthRule(Section):
    """Who may do what where: a user matches when named in `users` or a member of one of `groups`."""

    repositories: list[str] = Field(min_length=1)
    """Globs: `*` matches within one path segment, `**` across segments."""
    users: list[str] = []
    groups: list[str] = []
    actions: list[AuthAction] = Field(min_length=1)


class TrustedIssuer(Section):
    """An external token service whose tokens dockyard accepts: its `iss` and its public key(s)."""

    issuer: str = Field(min_length=1)
    public_key_file: Path | None = None
    jwks_file: Path | None = None

    @model_validator(mode="after")
    def _one_key_source(self) -> TrustedIssuer:
        if (self.public_key_file is None) == (self.jwks_file is None):
            raise ValueError(f"trusted issuer {self.issuer!r} needs exactly one of public_key_file, jwks_file")
        return self


class TokenAuth(Section):
    enabled: bool = False
    service: str = Field(default="dockyard", min_length=1)
    """The token audience (`aud`) and the `service` of the challenge."""
    issuer: str = Field(default="dockyard", min_length=1)
    key_file: Path | None = None
    """The signing key (PEM); by default `<data_dir>/auth/token-key.pem`, generated when absent."""
    algorithm: Literal["ES256", "RS256"] = "ES256"
    """The algorithm of a generated key; an existing key file's type decides for itself."""
    expiry_seconds: int = Field(default=300, ge=1)
    refresh_expiry_seconds: int = Field(default=30 * 24 * 3600, ge=1)
    leeway_seconds: int = Field(default=5, ge=0, le=300)
    upload_grant_seconds: int = Field(default=6 * 3600, ge=1)
    """How long an upload session opened under a valid token stays writable after the token expires."""
    trusted_issuers: list[TrustedIssuer] = []


CredentialSourceName = Literal["htpasswd", "ldap"]
_SOURCE_NAMES: tuple[CredentialSourceName, ...] = ("htpasswd", "ldap")


class Auth(Section):
    htpasswd: Path | None = None
    """bcrypt htpasswd file; setting it (or ldap, oidc or token.enabled) turns authentication on."""
    ldap: Ldap | None = None
    """A directory that verifies user names and passwords (config/identity.py)."""
    oidc: Oidc | None = None
    """An OpenID Provider for the web UI's login (config/identity.py)."""
    groups: dict[str, list[str]] = {}
    anonymous: list[str] = []
    """Repository globs anonymous clients may pull from."""
    rules: list[AuthRule] = []
    """With no rules, every authenticated user may do everything."""
    realm: str = "dockyard"
    external_url: str | None = None
    """The URL clients reach dockyard at (behind a reverse proxy: its URL); the token realm is built on it,
    never on a request's Host. Unset, the realm is on the listen address, which token mode accepts only
    on loopback."""
    token: TokenAuth = TokenAuth()
    credential_cache_seconds: int = Field(default=60, ge=0)
    failed_logins_per_minute: int = Field(default=10, ge=1)
    """Failed logins one client address (IPv6: one /64) may make in a minute before it gets 429."""
    password_check_threads: int = Field(default=1, ge=1, le=64)
    """Threads per worker that check passwords (bcrypt); they never delay pushes and pulls."""
    password_check_queue: int = Field(default=16, ge=0, le=10_000)
    """Password checks per worker that may wait for a thread; more at once are answered 429."""
    access_tokens: bool = False
    """Personal and robot access tokens (`dockyard token`): a password that starts with `dyd_` is one."""

    _source_order: tuple[CredentialSourceName, ...] = PrivateAttr(default=_SOURCE_NAMES)

    @property
    def enabled(self) -> bool:
        return bool(self.credential_sources) or self.oidc is not None or self.token.enabled

    @property
    def credential_sources(self) -> list[CredentialSourceName]:
        """The configured sources of user names and passwords, in the order the configuration names
        them: a user name belongs to the first that knows it."""
        configured = {"htpasswd": self.htpasswd is not None, "ldap": self.ldap is not None}
        return [name for name in self._source_order if configured[name]]

    @model_validator(mode="wrap")
    @classmethod
    def _remember_source_order(cls, data: Any, handler: ModelWrapValidatorHandler[Auth]) -> Auth:
        auth = handler(data)
        if isinstance(data, dict):
            written = [key for key in data if key in _SOURCE_NAMES]
            auth._source_order = (*written, *(name for name in _SOURCE_NAMES if name not in written))
        return auth

    @model_validator(mode="after")
    def _access_tokens_need_auth(self) -> Auth:
        if self.access_tokens and not self.enabled:
            raise ValueError("auth.access_tokens needs authentication on (auth.htpasswd or auth.token.enabled)")
        return self

    @model_validator(mode="after")
    def _token_has_a_source(self) -> Auth:
        if self.token.enabled and not self.credential_sources and not self.token.trusted_issuers:
            raise ValueError("auth.token.enabled needs auth.htpasswd, auth.ldap or auth.token.trusted_issuers")
        return self

"""Authentication as the rest of dockyard sees it: from credentials to a principal, and from a
principal and the scopes it asks for to a token. Built once per worker from the settings."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dockyard.auth import keys, metrics
from dockyard.auth.access_tokens import AccessTokenChecks, is_access_token
from dockyard.auth.credentials import FailedLogins, UserFile
from dockyard.auth.grants import UploadGrants
from dockyard.auth.ldap import LdapDirectory
from dockyard.auth.password_checks import PasswordChecks, PasswordChecksBusy
from dockyard.auth.policy import Action, Policy, Principal, rule
from dockyard.auth.revocation import Revocation
from dockyard.auth.sources import (
    CredentialSource,
    HtpasswdSource,
    Identity,
    ProviderUserSource,
    Sources,
    SourceUnavailable,
)
from dockyard.auth.tokens import Scope, TokenIssuer, TokenVerifier, repository_actions
from dockyard.auth.verifier import Verifier
from dockyard.config.auth import Auth
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.meta.access_tokens import AccessTokens
from dockyard.meta.provider_users import ProviderUsers
from dockyard.meta.revocations import Revocations

log = logging.getLogger(__name__)


class IdentityStore(Revocations, ProviderUsers, AccessTokens, Protocol):
    """What authentication keeps in the metadata store, shared by every instance."""


class LoginFailed(Exception):
    """Wrong user name or password, or credentials that do not parse (never says which)."""


class IdentityUnavailable(RegistryError):
    """A source of credentials (a directory) cannot answer now: no login succeeds or fails until it
    can (503 with the message, which names no secret and no internal address)."""

    def __init__(self, message: str):
        super().__init__(ErrorCode.UNAVAILABLE, message)


class TooManyFailures(Exception):
    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(message or f"too many failed logins; retry in {retry_after}s")
        self.retry_after = retry_after


def is_empty_basic(credentials: str) -> bool:
    """Whether the part after `Basic ` names no user and no password (base64 of ":"): what
    containers/image (skopeo, podman, buildah) sends when challenged without credentials. Such a
    caller is anonymous, not a failed login."""
    return credentials.strip() == "Og=="


def parse_basic(credentials: str) -> tuple[str, str] | None:
    """User and password of the part of a Basic Authorization header after `Basic `."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):  # ValueError: not base64 (binascii.Error), or not ASCII
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep and user else None


@dataclass(frozen=True, slots=True)
class Tokens:
    """What token mode adds: issuing, verifying and upload grants."""

    issuer: TokenIssuer
    verifier: TokenVerifier
    grants: UploadGrants
    lifetime: int
    refresh_lifetime: int


class Authenticator:
    def __init__(
        self, settings: Auth, users: UserFile | None, policy: Policy, tokens: Tokens | None, store: IdentityStore
    ):
        self.settings = settings
        self.policy = policy
        self.tokens = tokens
        checks = PasswordChecks(settings.password_check_threads, settings.password_check_queue)
        self._provider_users = ProviderUserSource(store, settings.credential_cache_seconds)
        self._sources = _sources(settings, users, checks, self._provider_users)
        self.revocation = Revocation(store, self._sources.stamp)
        """What ends refresh tokens and UI sessions before they expire (auth/revocation.py)."""
        self._verifier = Verifier(self._sources) if self._sources else None
        self._failures = FailedLogins(settings.failed_logins_per_minute)
        self.access_tokens = AccessTokenChecks(store, self._owner) if settings.access_tokens else None
        """Set when `auth.access_tokens` is on: passwords that start with `dyd_` are checked here."""

    @property
    def token_mode(self) -> bool:
        return self.tokens is not None

    def principal(self, identity: Identity) -> Principal:
        """The principal of a verified identity: its source's groups and the configured ones."""
        return Principal(identity.name, identity.groups | self.policy.groups_of(identity.name))

    async def _verified(self, key: bytes, parse: Callable[[], tuple[str, str] | None], client: str) -> Principal:
        """The principal of credentials, from the cache when they were checked lately; failures
        count against the client's address. Raises LoginFailed or TooManyFailures."""
        wait = self._failures.retry_after(client)
        if wait:
            metrics.LIMITED_LOGINS.inc()
            raise TooManyFailures(wait)
        assert self._verifier is not None
        cached = self._verifier.cached(key)
        if cached is None:
            identity = await self._checked(key, parse(), client)
        else:
            identity, fresh = cached
            if identity is None:
                self._failures.record_failure(client)  # known to be wrong: no bcrypt, but it counts
            elif not fresh and (parsed := parse()) is not None:
                self._verifier.recheck(key, *parsed)
        if identity is None:
            metrics.FAILED_LOGINS.inc()
            log.info("failed login from %s", client)
            raise LoginFailed
        return self.principal(identity)

    async def _checked(self, key: bytes, parsed: tuple[str, str] | None, client: str) -> Identity | None:
        """The identity of credentials not seen lately, or None: asks the sources (bcrypt, a bind),
        unless the credentials do not even parse. The check counts as a failed login from its start
        (until it succeeds), so that guesses sent in parallel cannot all pass the limit before the
        first has failed; a request that joins a check under way adds no guess, and counts only if
        the check fails. A source that cannot answer counts nothing (IdentityUnavailable)."""
        assert self._verifier is not None
        if parsed is None:
            self._failures.record_failure(client)
            return None
        joining = self._verifier.checking(key)
        if not joining and (wait := self._failures.attempt(client)):
            metrics.LIMITED_LOGINS.inc()
            raise TooManyFailures(wait)
        try:
            identity = await self._verifier.verify(key, *parsed)
        except PasswordChecksBusy as busy:
            if not joining:
                self._failures.withdraw(client)  # nothing was checked
            raise TooManyFailures(busy.retry_after, str(busy)) from None
        except SourceUnavailable as unavailable:
            if not joining:
                self._failures.withdraw(client)  # nothing was checked
            raise IdentityUnavailable(str(unavailable)) from None
        if joining and identity is None:
            self._failures.record_failure(client)
        elif not joining and identity is not None:
            self._failures.withdraw(client)
        return identity

    async def _by_access_token(self, secret: str, client: str) -> Principal:
        """The caller an access token stands for, counted against the client like a password."""
        assert self.access_tokens is not None
        if wait := self._failures.attempt(client):
            metrics.LIMITED_LOGINS.inc()
            raise TooManyFailures(wait)
        try:
            principal = await self.access_tokens.principal(secret)
        except Exception:
            self._failures.withdraw(client)  # nothing was checked: the store or a directory failed
            raise
        if principal is None:
            metrics.FAILED_LOGINS.inc()
            log.info("failed login with an access token from %s", client)
            raise LoginFailed
        self._failures.withdraw(client)
        return principal

    async def login(self, user: str, password: str, client: str) -> Principal:
        if self.access_tokens is not None and is_access_token(password):
            return await self._by_access_token(password, client)
        if self._verifier is None:
            raise LoginFailed
        key = self._verifier.key(f"{user}\0{password}")
        return await self._verified(key, lambda: (user, password) if user else None, client)

    async def basic(self, credentials: str, client: str) -> Principal:
        """The principal of the part of a Basic Authorization header after `Basic `."""
        if self.access_tokens is not None and (parsed := parse_basic(credentials)) and is_access_token(parsed[1]):
            return await self._by_access_token(parsed[1], client)
        if self._verifier is None:
            raise LoginFailed
        return await self._verified(self._verifier.key(credentials), lambda: parse_basic(credentials), client)

    async def _owner(self, name: str) -> Principal | None:
        """A personal token's owner as its source knows it now (None: gone); raises IdentityUnavailable."""
        identity = await self.identity_of(name)
        return self.principal(identity) if identity is not None else None

    async def remember_provider_user(self, identity: Identity) -> None:
        """Record a login at the identity provider: from then on the user is known by name (with
        these groups) to what acts for it later, until its next login replaces them."""
        await self._provider_users.remember(identity)

    async def identity_of(self, user: str) -> Identity | None:
        """The user as its source knows it now (None: no source does); raises IdentityUnavailable."""
        try:
            return await self._sources.lookup(user)
        except SourceUnavailable as unavailable:
            raise IdentityUnavailable(str(unavailable)) from None

    def token_for(self, principal: Principal | None, scopes: Iterable[Scope]) -> dict[str, Any]:
        """A token granting requested ∩ allowed, as the token endpoint answers it."""
        assert self.tokens is not None
        access: dict[str, frozenset[Action]] = {}
        catalog = False
        narrowed = principal is not None and principal.limit is not None
        for scope in scopes:
            if scope.type == "repository":
                wanted = repository_actions(scope.actions)
                if narrowed and Action.PUSH in wanted:
                    wanted |= {Action.OVERWRITE}  # the token's grants are all it has: moving tags included
                allowed = self.policy.allowed_actions(principal, scope.name, wanted)
                access[scope.name] = access.get(scope.name, frozenset()) | allowed
            elif scope.type == "registry" and scope.name == "catalog":
                catalog = self.policy.may_list_catalog(principal)
        now = time.time()
        lifetime = self.tokens.lifetime
        subject = principal.name if principal is not None else ""
        groups = principal.groups if principal is not None else frozenset()
        token = self.tokens.issuer.access_token(
            subject, access, catalog, lifetime, now, groups=groups, narrowed=narrowed
        )
        issued_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        return {"token": token, "access_token": token, "expires_in": lifetime, "issued_at": issued_at}

    async def refresh_token(self, principal: Principal) -> str | None:
        """None for an access-token caller: a refresh token would outlive the token's revocation and
        carry its owner's full rights."""
        assert self.tokens is not None
        if principal.limit is not None:
            return None
        binding = await self.revocation.bind(principal.name)
        return self.tokens.issuer.refresh_token(principal.name, self.tokens.refresh_lifetime, time.time(), binding)

    async def refreshed_principal(self, refresh_token: str) -> Principal:
        """The user of a refresh token that still holds (its user exists, with the credential it was
        issued for, and nothing revoked it); raises TokenError or LoginFailed."""
        assert self.tokens is not None
        token = self.tokens.verifier.verify_refresh(refresh_token, self.tokens.issuer.refresh_audience)
        identity = await self.identity_of(token.subject)
        if identity is None or not await self.revocation.holds(token.subject, token.binding, token.token_id):
            raise LoginFailed
        return self.principal(identity)


def _sources(
    settings: Auth, users: UserFile | None, checks: PasswordChecks, provider_users: ProviderUserSource
) -> Sources:
    """The configured credential sources, in the order the configuration names them; the identity
    provider's users last."""
    sources: list[CredentialSource] = []
    for name in settings.credential_sources:
        if name == "htpasswd" and users is not None:
            sources.append(HtpasswdSource(users, checks, settings.credential_cache_seconds))
        elif name == "ldap" and settings.ldap is not None:
            sources.append(LdapDirectory(settings.ldap, checks))
    if settings.oidc is not None:
        sources.append(provider_users)
    return Sources(sources)


def _tokens(settings: Auth, data_dir: Path) -> Tokens:
    token = settings.token
    key_file = token.key_file or data_dir / "auth" / "token-key.pem"
    private_key, algorithm = keys.signing_key(key_file, token.algorithm)
    public_key = private_key.public_key()
    issuers: dict[str, list[keys.VerifyingKey]] = {
        token.issuer: [keys.VerifyingKey(public_key, keys.thumbprint(public_key), (algorithm,))]
    }
    for trusted in token.trusted_issuers:
        issuers.setdefault(trusted.issuer, []).extend(keys.public_keys(trusted.public_key_file, trusted.jwks_file))
    return Tokens(
        issuer=TokenIssuer(private_key, algorithm, token.issuer, token.service),
        verifier=TokenVerifier(issuers, token.issuer, token.service, token.leeway_seconds),
        grants=UploadGrants(private_key, token.upload_grant_seconds),
        lifetime=token.expiry_seconds,
        refresh_lifetime=token.refresh_expiry_seconds,
    )


def load_auth(settings: Auth, data_dir: Path) -> tuple[UserFile | None, Policy, Tokens | None]:
    """The users, the policy and the token keys the settings name (the signing key is generated when
    absent). Raises HtpasswdError or KeyFileError with a message for the operator."""
    users = UserFile(settings.htpasswd) if settings.htpasswd is not None else None
    policy = Policy(
        [rule(entry.repositories, entry.users, entry.groups, entry.actions) for entry in settings.rules],
        settings.anonymous,
        settings.groups,
    )
    tokens = _tokens(settings, data_dir) if settings.token.enabled else None
    return users, policy, tokens


def build_authenticator(settings: Auth, data_dir: Path, store: IdentityStore) -> Authenticator | None:
    """None when auth is off. Raises HtpasswdError or KeyFileError with a message for the operator."""
    if not settings.enabled:
        return None
    return Authenticator(settings, *load_auth(settings, data_dir), store)

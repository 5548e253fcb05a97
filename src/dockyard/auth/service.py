"""Authentication as the rest of dockyard sees it: from credentials to a principal, and from a
principal and the scopes it asks for to a token. Built once per worker from the settings."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.auth import keys, metrics
from dockyard.auth.access_tokens import AccessTokenChecks, is_access_token
from dockyard.auth.credentials import FailedLogins, UserFile, Verifier
from dockyard.auth.grants import UploadGrants
from dockyard.auth.password_checks import PasswordChecks, PasswordChecksBusy
from dockyard.auth.policy import Action, Policy, Principal, rule
from dockyard.auth.revocation import CredentialStamp, Revocation, password_stamp
from dockyard.auth.tokens import Scope, TokenIssuer, TokenVerifier, repository_actions
from dockyard.config.auth import Auth
from dockyard.meta.access_tokens import AccessTokens
from dockyard.meta.revocations import Revocations

log = logging.getLogger(__name__)


class LoginFailed(Exception):
    """Wrong user name or password, or credentials that do not parse (never says which)."""


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
        self,
        settings: Auth,
        users: UserFile | None,
        policy: Policy,
        tokens: Tokens | None,
        revocations: Revocations,
        *,
        access_tokens: AccessTokens | None = None,
    ):
        self.settings = settings
        self.policy = policy
        self.tokens = tokens
        self.revocation = Revocation(revocations, _stamps_of(users))
        """What ends refresh tokens and UI sessions before they expire (auth/revocation.py)."""
        self._users = users
        self._verifier = None
        if users is not None:
            checks = PasswordChecks(settings.password_check_threads, settings.password_check_queue)
            self._verifier = Verifier(users, settings.credential_cache_seconds, checks)
        self._failures = FailedLogins(settings.failed_logins_per_minute)
        self._principals: dict[str, Principal] = {}
        self.access_tokens = None
        """Set when `auth.access_tokens` is on: passwords that start with `dyd_` are checked here."""
        if access_tokens is not None:
            self.access_tokens = AccessTokenChecks(access_tokens, policy.groups_of, self.user_exists)

    @property
    def token_mode(self) -> bool:
        return self.tokens is not None

    def _principal(self, user: str) -> Principal:
        principal = self._principals.get(user)
        if principal is None:
            principal = self._principals[user] = Principal(user, self.policy.groups_of(user))
        return principal

    async def _verified(self, key: bytes, parse: Callable[[], tuple[str, str] | None], client: str) -> Principal:
        """The principal of credentials, from the cache when they were checked lately; failures
        count against the client's address. Raises LoginFailed or TooManyFailures."""
        wait = self._failures.retry_after(client)
        if wait:
            metrics.LIMITED_LOGINS.inc()
            raise TooManyFailures(wait)
        assert self._verifier is not None
        user, fresh = self._verifier.cached(key)
        if user is None:
            user = await self._checked(key, parse(), client)
        elif not user:
            self._failures.record_failure(client)  # known to be wrong: no bcrypt, but it counts
        elif not fresh and (parsed := parse()) is not None:
            self._verifier.recheck(key, *parsed)
        if not user:
            metrics.FAILED_LOGINS.inc()
            log.info("failed login from %s", client)
            raise LoginFailed
        return self._principal(user)

    async def _checked(self, key: bytes, parsed: tuple[str, str] | None, client: str) -> str:
        """The user of credentials not seen lately, or "": bcrypt, unless they do not even parse. The
        check counts as a failed login from its start (until it succeeds), so that guesses sent in
        parallel cannot all pass the limit before the first has failed; a request that joins a check
        under way adds no guess, and counts only if the check fails."""
        assert self._verifier is not None
        if parsed is None:
            self._failures.record_failure(client)
            return ""
        joining = self._verifier.checking(key)
        if not joining and (wait := self._failures.attempt(client)):
            metrics.LIMITED_LOGINS.inc()
            raise TooManyFailures(wait)
        try:
            user = await self._verifier.verify(key, *parsed)
        except PasswordChecksBusy as busy:
            if not joining:
                self._failures.withdraw(client)  # nothing was checked
            raise TooManyFailures(busy.retry_after, str(busy)) from None
        if joining and not user:
            self._failures.record_failure(client)
        elif not joining and user:
            self._failures.withdraw(client)
        return user

    async def _by_access_token(self, secret: str, client: str) -> Principal:
        """The caller an access token stands for, counted against the client like a password."""
        assert self.access_tokens is not None
        if wait := self._failures.attempt(client):
            metrics.LIMITED_LOGINS.inc()
            raise TooManyFailures(wait)
        try:
            principal = await self.access_tokens.principal(secret)
        except Exception:
            self._failures.withdraw(client)  # nothing was checked: the store failed
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

    def user_exists(self, user: str) -> bool:
        return self._users is not None and self._users.exists(user)

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
        token = self.tokens.issuer.access_token(subject, access, catalog, lifetime, now, narrowed=narrowed)
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
        if not self.user_exists(token.subject):
            raise LoginFailed
        if not await self.revocation.holds(token.subject, token.binding, token.token_id):
            raise LoginFailed
        return Principal(token.subject, self.policy.groups_of(token.subject))


def _stamps_of(users: UserFile | None) -> CredentialStamp:
    if users is None:
        return lambda _subject: ""
    return lambda subject: password_stamp(users.hash_of(subject))


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


def build_authenticator(
    settings: Auth, data_dir: Path, revocations: Revocations, access_tokens: AccessTokens | None = None
) -> Authenticator | None:
    """None when auth is off. Raises HtpasswdError or KeyFileError with a message for the operator.
    `access_tokens`: the store of access tokens, used when `auth.access_tokens` is on."""
    if not settings.enabled:
        return None
    tokens_store = access_tokens if settings.access_tokens else None
    return Authenticator(settings, *load_auth(settings, data_dir), revocations, access_tokens=tokens_store)

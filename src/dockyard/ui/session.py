"""Who is calling the UI's API, and what they may do.

The UI logs in once with Basic credentials (checked by the same authenticator as the registry API),
or through an OpenID Provider (oidc.py), and then carries a session cookie: HttpOnly,
SameSite=Strict, Secure on TLS. The cookie is signed with a key every worker and instance shares (a
file, by default under the data directory); it names the user, an id of its own, what binds it to
the user's credential, and for a provider's user the groups its ID token listed. It holds only while
auth/revocation.py says so: a changed password, `dockyard user logout` or a logout (which revokes
the session's id) ends it on every instance.
API clients may send Basic credentials (or, in token mode, a token) instead of the cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard import durable
from dockyard.auth.policy import Action, Principal
from dockyard.auth.revocation import Binding
from dockyard.auth.service import Authenticator, LoginFailed, TooManyFailures
from dockyard.auth.sources import Identity
from dockyard.auth.tokens import TokenError
from dockyard.core.errors import ErrorCode
from dockyard.http.auth import client_address, too_many
from dockyard.http.errors import HTTPError
from dockyard.http.login_audit import LoginAudit
from dockyard.http.messages import Request
from dockyard.ui.csrf import cookie_value

COOKIE = "dockyard_session"
_KEY_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_key(path: Path) -> bytes:
    """The signing key in `path`, created (readable by its owner only) when absent; workers that
    start together agree on one key because the file appears whole and the first to link it wins."""
    if not path.exists():
        durable.make_dirs(path.parent)
        durable.create_file(path, secrets.token_bytes(_KEY_BYTES), 0o600)
    key = path.read_bytes()
    if len(key) < _KEY_BYTES:
        raise RuntimeError(f"session key file {path} is shorter than {_KEY_BYTES} bytes: remove it for a new key")
    return key


@dataclass(frozen=True, slots=True)
class Session:
    """What a valid, unexpired session cookie says."""

    user: str
    binding: Binding
    session_id: str
    expires: int
    groups: frozenset[str] | None = None
    """The groups an identity provider vouched for at login (OIDC); None: the user's credential source
    is asked on each use."""


class Sessions:
    def __init__(self, key: bytes, lifetime: int):
        self._key = key
        self.lifetime = lifetime

    def _signature(self, payload: str, key: bytes | None = None) -> str:
        return _b64(hmac.new(key or self._key, payload.encode(), hashlib.sha256).digest())

    def _signed(self, claims: dict[str, Any], key: bytes | None = None) -> str:
        payload = _b64(json.dumps(claims).encode())
        return f"{payload}.{self._signature(payload, key)}"

    def _claims(self, cookie: str, key: bytes | None = None) -> dict[str, Any] | None:
        payload, _, signature = cookie.partition(".")
        # compare_digest refuses non-ASCII text with a TypeError; a cookie of ours is ASCII.
        if not cookie.isascii() or not hmac.compare_digest(signature, self._signature(payload, key)):
            return None
        try:
            claims = json.loads(_unb64(payload))
        except (ValueError, binascii.Error):
            return None
        return claims if isinstance(claims, dict) else None

    def issue(self, user: str, binding: Binding, groups: frozenset[str] | None = None) -> str:
        """A cookie value for a new session of `user`, bound to its credential (auth/revocation.py);
        `groups` for a user an identity provider vouched for."""
        claims: dict[str, Any] = {"u": user, "e": int(time.time()) + self.lifetime}
        claims |= {"v": binding.version, "s": binding.stamp, "i": secrets.token_urlsafe(16)}
        if groups is not None:
            claims["g"] = sorted(groups)
        return self._signed(claims)

    def read(self, cookie: str) -> Session | None:
        """The session of a cookie signed here and not yet expired; whether it still holds is for the
        revocation check to say."""
        claims = self._claims(cookie)
        if claims is None:
            return None
        user, expires, version, stamp, session_id = (claims.get(key) for key in ("u", "e", "v", "s", "i"))
        if not (isinstance(user, str) and isinstance(stamp, str) and isinstance(session_id, str)):
            return None
        if not (isinstance(expires, int) and isinstance(version, int)) or expires <= time.time():
            return None
        groups = claims.get("g")
        if groups is not None and not (isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
            return None
        return Session(
            user, Binding(version, stamp), session_id, expires, None if groups is None else frozenset(groups)
        )

    def seal(self, purpose: str, claims: dict[str, Any], lifetime: int) -> str:
        """A signed value of `claims` for `purpose` only (a key of its own): never taken for a session."""
        return self._signed({**claims, "e": int(time.time()) + lifetime}, self._purpose_key(purpose))

    def unseal(self, purpose: str, value: str) -> dict[str, Any] | None:
        """The claims of a value sealed for `purpose`, unless forged or expired."""
        claims = self._claims(value, self._purpose_key(purpose))
        expires = claims.get("e") if claims is not None else None
        return claims if isinstance(expires, int) and expires > time.time() else None

    def _purpose_key(self, purpose: str) -> bytes:
        return hmac.digest(self._key, purpose.encode(), hashlib.sha256)


def cookie_header(value: str, max_age: int, secure: bool) -> tuple[str, str]:
    attributes = f"Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}" + ("; Secure" if secure else "")
    return "set-cookie", f"{COOKIE}={value}; {attributes}"


async def basic_login(auth: Authenticator, req: Request, login_audit: LoginAudit) -> Principal:
    """The principal of the request's Basic credentials; 401 without a challenge (a browser would
    open its own login dialog on one), 429 after too many failures."""
    kind, _, credentials = (req.header("authorization") or "").partition(" ")
    if kind.lower() != "basic":
        raise HTTPError(401, ErrorCode.UNAUTHORIZED, "send Basic credentials to log in")
    try:
        return await auth.basic(credentials, client_address(req.client))
    except LoginFailed:
        await login_audit.record_basic(req, credentials, "ui")
        raise HTTPError(401, ErrorCode.UNAUTHORIZED, "invalid user name or password") from None
    except TooManyFailures as limited:
        raise too_many(limited) from None


async def caller(
    auth: Authenticator | None, sessions: Sessions | None, req: Request, login_audit: LoginAudit
) -> Principal | None:
    """Who the request is from: the session's user, else the caller its Basic credentials or (in token
    mode) Bearer token name, else None."""
    if auth is None:
        return None
    session = current_session(sessions, req)
    if session is not None and (identity := await _holding(auth, session)) is not None:
        return auth.principal(identity)
    header = req.header("authorization")
    if header is None:
        return None
    kind, _, token = header.partition(" ")
    if kind.lower() == "bearer" and auth.tokens is not None:
        try:
            return auth.tokens.verifier.verify(token.strip())
        except TokenError as refused:
            raise HTTPError(401, ErrorCode.UNAUTHORIZED, str(refused)) from None
    return await basic_login(auth, req, login_audit)


async def require_admin(
    auth: Authenticator | None, sessions: Sessions | None, req: Request, login_audit: LoginAudit, what: str
) -> None:
    """Refuse unless the caller is an administrator (anyone may, with auth off); `what` is what they see."""
    if auth is None:
        return
    principal = await caller(auth, sessions, req, login_audit)
    if principal is None:
        raise HTTPError(401, ErrorCode.UNAUTHORIZED, f"log in as an administrator to see {what}")
    if not auth.policy.is_admin(principal):
        raise HTTPError(403, ErrorCode.DENIED, f"{principal.name} is no administrator")


def current_session(sessions: Sessions | None, req: Request) -> Session | None:
    """The session the request's cookie names, if it is signed here and unexpired."""
    cookie = cookie_value(req, COOKIE)
    return sessions.read(cookie) if sessions is not None and cookie else None


async def _holding(auth: Authenticator, session: Session) -> Identity | None:
    """The session's user, if it still exists with the same credential and nothing ended the session
    (a user an identity provider vouched for exists as long as the session)."""
    if session.groups is not None:
        identity: Identity | None = Identity(session.user, session.groups)
    else:
        identity = await auth.identity_of(session.user)
    if identity is None or not await auth.revocation.holds(session.user, session.binding, session.session_id):
        return None
    return identity


def require(auth: Authenticator | None, principal: Principal | None, action: Action, repository: str) -> None:
    """Refuse unless the principal may do `action` on `repository` (always allowed with auth off)."""
    if auth is None or auth.policy.allows(principal, action, repository):
        return
    if principal is None:
        raise HTTPError(401, ErrorCode.UNAUTHORIZED, f"log in to {action.value} {repository}")
    raise HTTPError(403, ErrorCode.DENIED, f"{principal.name} may not {action.value} {repository}")

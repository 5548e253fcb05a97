"""Bearer tokens as the Docker token specification has them: scopes, issuing signed JWTs that carry
the granted access, and verifying them (dockyard's own and those of trusted external issuers)."""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from dockyard.auth.keys import PrivateKey, VerifyingKey, thumbprint
from dockyard.auth.policy import Action, Principal, TokenLimit
from dockyard.auth.revocation import Binding

_ALL_ACTIONS = frozenset(Action)
_CACHE_LIMIT = 16384
# What binds a refresh token to its subject's credential (auth/revocation.py).
_VERSION_CLAIM = "cver"
_STAMP_CLAIM = "cstamp"
GROUPS_CLAIM = "groups"
"""The groups of a user from a directory, in dockyard's own access tokens."""
# Set on tokens issued to an access-token caller: their access claim is all they grant, never widened
# by their subject's rights (for tag moves, for reading a mount's source).
_NARROWED_CLAIM = "narrowed"
_NARROWED = TokenLimit((re.compile(".*"),), _ALL_ACTIONS)


@dataclass(frozen=True, slots=True)
class Scope:
    """`repository:NAME:ACTIONS` (or `registry:catalog:*`) as clients ask for it."""

    type: str
    name: str
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scope(text: str) -> Scope | None:
    """None when malformed. The name may hold colons (a registry host with a port)."""
    kind, sep, rest = text.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not kind or not name:
        return None
    # `repository(plugin)` is the same resource type with a class annotation.
    kind = kind.split("(", 1)[0]
    return Scope(kind, name, tuple(action for action in actions.split(",") if action))


def repository_actions(names: Iterable[str]) -> frozenset[Action]:
    """Known actions among `names`; `*` stands for all of them, unknown names are ignored."""
    actions: set[Action] = set()
    for name in names:
        if name == "*":
            return _ALL_ACTIONS
        if name in Action._value2member_map_:
            actions.add(Action(name))
    return frozenset(actions)


@dataclass(frozen=True, slots=True)
class RefreshToken:
    subject: str
    binding: Binding
    token_id: str
    expires: float


class TokenError(Exception):
    """Why a token was refused, for the `error_description` of the challenge (no token content)."""


class TokenExpired(TokenError):
    """Signed by a trusted key and otherwise valid, but past its expiry."""

    def __init__(self, principal: Principal, issued_at: float):
        super().__init__("the token has expired")
        self.principal = principal
        self.issued_at = issued_at


def _access_claim(access: Mapping[str, frozenset[Action]], catalog: bool) -> list[dict[str, Any]]:
    claim: list[dict[str, Any]] = [
        {"type": "repository", "name": name, "actions": sorted(action.value for action in actions)}
        for name, actions in sorted(access.items())
    ]
    if catalog:
        claim.append({"type": "registry", "name": "catalog", "actions": ["*"]})
    return claim


def principal_of(claims: Mapping[str, Any], local: bool) -> Principal:
    access: dict[str, frozenset[Action]] = {}
    catalog = False
    entries = claims.get("access") or []
    if not isinstance(entries, list):
        raise TokenError("the token's access claim is not a list")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("actions", []), list):
            raise TokenError("the token's access claim is malformed")
        kind, name, actions = entry.get("type"), entry.get("name"), entry.get("actions", [])
        if kind == "repository" and isinstance(name, str):
            access[name] = access.get(name, frozenset()) | repository_actions(str(a) for a in actions)
        elif kind == "registry" and name == "catalog" and "*" in actions:
            catalog = True
    subject = claims.get("sub")
    groups = claims.get(GROUPS_CLAIM) if local else None
    return Principal(
        name=subject if isinstance(subject, str) else "",
        groups=frozenset(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else frozenset(),
        access=access,
        catalog=catalog,
        local=local,
        expires=float(claims["exp"]),
        limit=_NARROWED if claims.get(_NARROWED_CLAIM) is True else None,
    )


class TokenIssuer:
    def __init__(self, key: PrivateKey, algorithm: str, issuer: str, service: str):
        self._key = key
        self._algorithm = algorithm
        self._headers = {"kid": thumbprint(key.public_key())}
        self.issuer = issuer
        self.service = service

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, self._algorithm, headers=self._headers)

    def access_token(
        self,
        subject: str,
        access: Mapping[str, frozenset[Action]],
        catalog: bool,
        lifetime: int,
        now: float,
        *,
        groups: frozenset[str] = frozenset(),
        narrowed: bool = False,
    ) -> str:
        """`groups`: those the subject's credential source put it in (a directory's), which the
        policy needs again for what it decides by the user rather than by the token (overwrite).
        `narrowed`: for an access-token caller (see _NARROWED_CLAIM)."""
        issued = int(now)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            # Rounded up: a token never lives shorter than its lifetime (whole seconds on the wire).
            "exp": math.ceil(now + lifetime),
            "nbf": issued,
            "iat": issued,
            "jti": secrets.token_urlsafe(12),
            "access": _access_claim(access, catalog),
        }
        if groups:
            claims[GROUPS_CLAIM] = sorted(groups)
        if narrowed:
            claims[_NARROWED_CLAIM] = True
        return self._sign(claims)

    def refresh_token(self, subject: str, lifetime: int, now: float, binding: Binding) -> str:
        """A long-lived token that only the token endpoint accepts (another audience), bound to the
        subject's credential (auth/revocation.py)."""
        issued = int(now)
        claims: dict[str, Any] = {"iss": self.issuer, "sub": subject, "aud": self.refresh_audience}
        claims |= {"exp": issued + lifetime, "iat": issued, "jti": secrets.token_urlsafe(12)}
        claims |= {_VERSION_CLAIM: binding.version, _STAMP_CLAIM: binding.stamp}
        return self._sign(claims)

    @property
    def refresh_audience(self) -> str:
        return f"{self.service}#refresh"


def _decode(
    token: str, key: VerifyingKey, audience: str, issuer: str, leeway: int, *, verify_exp: bool = True
) -> dict[str, Any]:
    options: jwt.types.Options = {"require": ["exp", "iss", "aud"], "verify_exp": verify_exp}
    claims: dict[str, Any] = jwt.decode(
        token, key.key, algorithms=list(key.algorithms), audience=audience, issuer=issuer, leeway=leeway,
        options=options,
    )  # fmt: skip
    return claims


class TokenVerifier:
    """Checks signature (algorithm from the key's allow-list), `iss`, `aud`, `exp` and `nbf` with a small
    leeway. Results are cached per token for its lifetime, so a client reusing its token pays the
    signature check once."""

    def __init__(self, issuers: Mapping[str, Sequence[VerifyingKey]], own_issuer: str, service: str, leeway: int):
        self._issuers = issuers
        self._own_issuer = own_issuer
        self._service = service
        self._leeway = leeway
        self._cache: dict[str, Principal] = {}

    def verify(self, token: str) -> Principal:
        principal = self._cache.get(token)
        if principal is not None and principal.expires + self._leeway > time.time():
            return principal
        principal = self._verify(token, self._service)[0]
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = principal
        return principal

    def verify_refresh(self, token: str, audience: str) -> RefreshToken:
        """What a valid refresh token of dockyard's own says; whether it still holds is for
        auth/revocation.py to say."""
        principal, claims = self._verify(token, audience)
        if claims.get("iss") != self._own_issuer:
            raise TokenError("refresh tokens of other issuers are not accepted")
        version, stamp, token_id = claims.get(_VERSION_CLAIM), claims.get(_STAMP_CLAIM), claims.get("jti")
        if not (isinstance(version, int) and isinstance(stamp, str) and isinstance(token_id, str) and principal.name):
            raise TokenError("the refresh token is not bound to a credential: log in again")
        return RefreshToken(principal.name, Binding(version, stamp), token_id, float(claims["exp"]))

    def _verify(self, token: str, audience: str) -> tuple[Principal, dict[str, Any]]:
        if not token.isascii():  # a JWT is base64url and dots; PyJWT fails otherwise in its own way
            raise TokenError("the token is malformed")
        try:
            header = jwt.get_unverified_header(token)
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise TokenError("the token is malformed") from None
        keys = self._issuers.get(issuer) if isinstance(issuer, str) else None
        if not keys or not isinstance(issuer, str):
            raise TokenError("the token's issuer is not trusted")
        kid = header.get("kid")
        candidates = [key for key in keys if kid is None or key.key_id is None or key.key_id == kid]
        algorithm = header.get("alg")
        usable = [key for key in candidates if algorithm in key.algorithms]
        if not usable:
            raise TokenError("the token's key or signature algorithm is not accepted")
        for key in usable:
            try:
                claims = _decode(token, key, audience, issuer, self._leeway)
            except jwt.ExpiredSignatureError:
                # Expired, but otherwise valid here? Only then may an upload grant still honour it.
                stale = self._decode_expired(token, key, audience, issuer)
                raise TokenExpired(
                    principal_of(stale, issuer == self._own_issuer), float(stale.get("iat", 0))
                ) from None
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as error:
                raise _not_valid_here(error) from None
            return principal_of(claims, issuer == self._own_issuer), claims
        raise TokenError("the token's signature does not verify")

    def _decode_expired(self, token: str, key: VerifyingKey, audience: str, issuer: str) -> dict[str, Any]:
        try:
            return _decode(token, key, audience, issuer, self._leeway, verify_exp=False)
        except jwt.PyJWTError as error:  # e.g. a refresh token, or one for another service
            raise _not_valid_here(error) from None


def _not_valid_here(error: jwt.PyJWTError) -> TokenError:
    return TokenError(f"the token is not valid here: {type(error).__name__}")

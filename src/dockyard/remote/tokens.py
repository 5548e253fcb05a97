"""The Authorization header for requests to a remote, learned from its challenges (Docker token flow).

On a Bearer challenge a token is fetched from the challenge's realm (GET, with Basic credentials if
configured, anonymous otherwise) for the scopes the request needs; tokens are cached per scope set until
shortly before they expire and fetched once however many calls want the same one at the same moment.
The realm must be on the remote's own host or listed in `trusted_token_realms`: any other realm is
refused before it is dialled, so credentials never reach a third host. A Basic challenge is answered
with the configured credentials. Once the remote's scheme is known, later requests carry the header up
front instead of collecting a 401 first.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from dockyard.remote.errors import RemoteDenied, RemoteInvalid
from dockyard.remote.headers import Challenge
from dockyard.remote.observer import RemoteObserver
from dockyard.remote.settings import RemoteSettings

log = logging.getLogger("dockyard.remote")

Scopes = frozenset[str]

DEFAULT_TOKEN_SECONDS = 60.0
_MAX_REFRESH_MARGIN_SECONDS = 30.0
_PRUNE_ABOVE = 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


def repository_scope(repository: str, *actions: str) -> str:
    return f"repository:{repository}:{','.join(actions)}"


class TokenEndpoint(Protocol):
    async def fetch_token(self, realm: str, params: list[tuple[str, str]], authorization: str | None) -> bytes:
        """The body of a 200 answer of the realm (raise a RemoteError otherwise)."""
        ...


def _host_port(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme, host, parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)


def realm_trusted(realm: str, remote_url: str, trusted: tuple[str, ...]) -> bool:
    """On the remote's host (any port), or a host (or host:port) the settings trust; never a downgrade
    from https to http, never a URL carrying credentials."""
    parts = urlsplit(realm)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return False
    scheme, host, port = _host_port(realm)
    remote_scheme, remote_host, _ = _host_port(remote_url)
    if remote_scheme == "https" and scheme != "https":
        return False
    if host == remote_host:
        return True
    bracketed = f"[{host}]" if ":" in host else host
    allowed = {entry.lower() for entry in trusted}
    return host in allowed or bracketed in allowed or f"{bracketed}:{port}" in allowed


def parse_token_answer(body: bytes, now: float) -> tuple[str, float]:
    """(token, seconds it stays valid from now) from a token endpoint's JSON.

    `issued_at` only ever shortens the lifetime, and only when it lies between now and the expiry:
    a remote whose clock is off must not make every token look expired (or immortal)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError("the token endpoint did not answer JSON") from None
    if not isinstance(document, dict):
        raise ValueError("the token endpoint's answer is not a JSON object")
    token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not token:
        raise ValueError("the token endpoint's answer has no token")
    lifetime = _expires_in(document.get("expires_in"))
    issued = _issued_at(document.get("issued_at"))
    if issued is not None and 0 <= now - issued < lifetime:
        lifetime -= now - issued
    return token, lifetime


def _expires_in(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return DEFAULT_TOKEN_SECONDS


def _issued_at(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def refresh_margin(lifetime: float) -> float:
    """How long before expiry a cached token is replaced: a tenth of its life, at most 30 s."""
    return min(lifetime / 10, _MAX_REFRESH_MARGIN_SECONDS)


@dataclass(slots=True)
class _Cached:
    value: str = field(repr=False)
    refresh_at: float


class Authorizer:
    def __init__(
        self,
        settings: RemoteSettings,
        endpoint: TokenEndpoint,
        observer: RemoteObserver,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._settings = settings
        self._endpoint = endpoint
        self._observer = observer
        self._clock = clock
        self._bearer: Challenge | None = None
        self._basic = False
        self._tokens: dict[Scopes, _Cached] = {}
        self._flights: dict[Scopes, asyncio.Future[str]] = {}

    def _basic_header(self) -> str | None:
        credentials = self._settings.credentials
        if credentials is None:
            return None
        user, password = credentials
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    async def header(self, scopes: Scopes) -> str | None:
        """The header to send up front, as far as the remote's earlier challenges tell."""
        if self._bearer is not None:
            return "Bearer " + await self._token(self._bearer, scopes)
        return self._basic_header() if self._basic else None

    async def answer(self, challenges: list[Challenge], scopes: Scopes, sent: str | None) -> str:
        """The header to retry with after a 401 carrying `challenges`; `sent` is what the 401 refused."""
        remote = self._settings.base_url
        for challenge in challenges:
            if challenge.scheme == "bearer":
                bearer = self._trusted(challenge)
                self._bearer = bearer
                if sent is not None and sent.startswith("Bearer "):
                    self._forget(scopes, sent.removeprefix("Bearer "))
                return "Bearer " + await self._token(bearer, scopes)
        if any(challenge.scheme == "basic" for challenge in challenges):
            basic = self._basic_header()
            if basic is None:
                raise RemoteDenied(remote, "the remote requires credentials and none are configured", status=401)
            if sent == basic:
                raise RemoteDenied(remote, "the remote refused the configured credentials", status=401)
            self._basic = True
            return basic
        schemes = ", ".join(sorted({challenge.scheme for challenge in challenges})) or "none"
        raise RemoteDenied(remote, f"401 with no Bearer or Basic challenge (schemes: {schemes})", status=401)

    def _trusted(self, challenge: Challenge) -> Challenge:
        realm = challenge.params.get("realm", "")
        if not realm_trusted(realm, self._settings.url, self._settings.trusted_token_realms):
            raise RemoteDenied(
                self._settings.base_url,
                f"token realm {realm[:200]!r} is not on the remote's host nor in trusted_token_realms; "
                "refusing to send it anything",
                status=401,
            )
        return Challenge("bearer", {"realm": realm, "service": challenge.params.get("service", "")})

    def _forget(self, scopes: Scopes, token: str) -> None:
        """Drop a token the remote refused, unless a concurrent call has replaced it already."""
        cached = self._tokens.get(scopes)
        if cached is not None and cached.value == token:
            del self._tokens[scopes]

    def _fresh(self, scopes: Scopes) -> str | None:
        cached = self._tokens.get(scopes)
        return cached.value if cached is not None and self._clock() < cached.refresh_at else None

    async def _token(self, bearer: Challenge, scopes: Scopes) -> str:
        token = self._fresh(scopes)
        if token is not None:
            return token
        # Single flight: every caller that wants this scope set while a fetch is under way awaits that
        # fetch and shares its outcome, the token or the failure; one caller giving up cancels nothing.
        flight = self._flights.get(scopes)
        if flight is None:
            flight = asyncio.ensure_future(self._fetch(bearer, scopes))
            self._flights[scopes] = flight
            flight.add_done_callback(lambda done: self._landed(scopes, done))
        return await asyncio.shield(flight)

    def _landed(self, scopes: Scopes, flight: asyncio.Future[str]) -> None:
        del self._flights[scopes]
        if not flight.cancelled():
            flight.exception()  # retrieved: a failure nobody awaited any more is not reported as lost

    async def _fetch(self, bearer: Challenge, scopes: Scopes) -> str:
        params = [("service", bearer.params["service"])] if bearer.params.get("service") else []
        params += [("scope", scope) for scope in sorted(scopes)]
        body = await self._endpoint.fetch_token(bearer.params["realm"], params, self._basic_header())
        self._observer.token_fetched()
        log.debug(
            "%s: token fetched from %s for %s",
            self._settings.base_url,
            urlsplit(bearer.params["realm"]).netloc,
            " ".join(sorted(scopes)) or "no scope",
        )
        try:
            token, lifetime = parse_token_answer(body, time.time())
        except ValueError as error:
            raise RemoteInvalid(self._settings.base_url, str(error)) from None
        self._prune()
        self._tokens[scopes] = _Cached(token, self._clock() + lifetime - refresh_margin(lifetime))
        return token

    def _prune(self) -> None:
        if len(self._tokens) < _PRUNE_ABOVE:
            return
        now = self._clock()
        self._tokens = {scopes: cached for scopes, cached in self._tokens.items() if cached.refresh_at > now}

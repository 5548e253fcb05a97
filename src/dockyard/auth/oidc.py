"""An OpenID Connect relying party for the web UI's login: the authorization code flow with PKCE,
state and nonce, the provider discovered from its issuer, and ID tokens verified against its keys.

The protocol only: what the browser is sent and what it brings back travels through ui/oidc.py. An ID
token is accepted when its signature verifies with a key of the provider's JWKS (asymmetric
algorithms only, never `none` or a shared-secret HMAC), and its `iss`, `aud` (and `azp`), `exp`,
`iat` and `nonce` are the ones expected. Its `username_claim` names the user and its `groups_claim`
lists the user's groups.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt
from pydantic import SecretStr

from dockyard.auth.sources import Identity
from dockyard.config.identity import Oidc

log = logging.getLogger(__name__)

_ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
_LEEWAY_SECONDS = 30
_KEYS_REFETCH_SECONDS = 60.0
_MAX_DOCUMENT_BYTES = 1 << 20


class OidcError(Exception):
    """The login cannot complete: a refused or tampered answer (the message is safe to show)."""


class ProviderUnavailable(Exception):
    """The provider cannot be reached or answers nonsense (the message is safe to show)."""


@dataclass(frozen=True, slots=True)
class Provider:
    """What discovery tells about the provider."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    algorithms: frozenset[str]


@dataclass(frozen=True, slots=True)
class LoginStart:
    """Where to send the browser, and what to keep (signed, in a cookie) until it comes back."""

    url: str
    state: str
    nonce: str
    verifier: str


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OidcClient:
    def __init__(self, settings: Oidc, http: httpx.AsyncClient | None = None):
        self._settings = settings
        self.issuer = settings.issuer.rstrip("/")
        self._http = http or httpx.AsyncClient(timeout=settings.timeout_seconds, follow_redirects=False)
        self._provider: Provider | None = None
        self._keys: jwt.PyJWKSet | None = None
        self._keys_fetched = 0.0

    async def provider(self) -> Provider:
        """The provider's configuration, discovered once (again after a failure)."""
        if self._provider is None:
            document = await self._json(f"{self.issuer}/.well-known/openid-configuration")
            if str(document.get("issuer", "")).rstrip("/") != self.issuer:
                raise ProviderUnavailable("the provider's configuration names another issuer")
            try:
                self._provider = Provider(
                    authorization_endpoint=str(document["authorization_endpoint"]),
                    token_endpoint=str(document["token_endpoint"]),
                    jwks_uri=str(document["jwks_uri"]),
                    end_session_endpoint=document.get("end_session_endpoint"),
                    algorithms=frozenset(document.get("id_token_signing_alg_values_supported", ["RS256"]))
                    & _ASYMMETRIC,
                )
            except KeyError as missing:
                raise ProviderUnavailable(f"the provider's configuration lacks {missing}") from None
        return self._provider

    async def start(self, redirect_uri: str) -> LoginStart:
        provider = await self.provider()
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        scopes = ["openid", *(scope for scope in self._settings.scopes if scope != "openid")]
        query = {
            "response_type": "code",
            "client_id": self._settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in provider.authorization_endpoint else "?"
        return LoginStart(f"{provider.authorization_endpoint}{separator}{urlencode(query)}", state, nonce, verifier)

    async def finish(self, code: str, redirect_uri: str, verifier: str, nonce: str) -> Identity:
        """The user the provider vouches for: the code exchanged (with the PKCE verifier) for an ID
        token, which is verified. Raises OidcError or ProviderUnavailable."""
        provider = await self.provider()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        form["code_verifier"] = verifier
        headers = {}
        if self._settings.client_secret is not None:
            headers["authorization"] = _client_basic(self._settings.client_id, self._settings.client_secret)
        else:
            form["client_id"] = self._settings.client_id
        try:
            response = await self._http.post(provider.token_endpoint, data=form, headers=headers)
        except httpx.HTTPError as error:
            raise self._unavailable(error) from None
        if response.status_code != 200:
            log.info("OIDC code exchange refused: HTTP %d", response.status_code)
            raise OidcError("the provider refused the login")
        id_token = _object(response).get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("the provider's answer holds no ID token")
        return await self.verify(id_token, nonce)

    async def verify(self, id_token: str, nonce: str) -> Identity:
        """The identity of a verified ID token; raises OidcError for any flaw."""
        provider = await self.provider()
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise OidcError("the ID token is malformed") from None
        algorithm = header.get("alg")
        if algorithm not in provider.algorithms:
            raise OidcError(f"the ID token's algorithm {algorithm!r} is not accepted")
        key = await self._key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=[algorithm],
                audience=self._settings.client_id,
                issuer=self.issuer,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as refused:
            raise OidcError(f"the ID token is not valid: {refused}") from None
        return self._identity(claims, nonce)

    def _identity(self, claims: dict[str, Any], nonce: str) -> Identity:
        sent_nonce = claims.get("nonce")
        if not isinstance(sent_nonce, str) or not hmac.compare_digest(sent_nonce.encode(), nonce.encode()):
            raise OidcError("the ID token's nonce is not this login's")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self._settings.client_id:
            raise OidcError("the ID token was issued to another party")
        name = claims.get(self._settings.username_claim)
        if not isinstance(name, str) or not name or not name.isprintable():
            raise OidcError(f"the ID token has no {self._settings.username_claim!r} claim naming the user")
        groups = claims.get(self._settings.groups_claim, [])
        if isinstance(groups, str):
            groups = [groups]
        if not isinstance(groups, list):
            raise OidcError(f"the ID token's {self._settings.groups_claim!r} claim is not a list")
        return Identity(name, frozenset(group for group in groups if isinstance(group, str) and group))

    async def _key(self, key_id: object) -> jwt.PyJWK:
        """The provider's key of that id; the key set is fetched again (at most once a minute) when
        the id is unknown, since providers rotate keys."""
        for fresh in (False, True):
            if self._keys is None or (fresh and time.monotonic() - self._keys_fetched > _KEYS_REFETCH_SECONDS):
                provider = await self.provider()
                try:
                    self._keys = jwt.PyJWKSet.from_dict(await self._json(provider.jwks_uri))
                except jwt.PyJWTError as error:
                    raise ProviderUnavailable(f"the provider's keys cannot be used: {error}") from None
                self._keys_fetched = time.monotonic()
            matching = [key for key in self._keys.keys if key_id is None or key.key_id == key_id]
            if len(matching) == 1:
                return matching[0]
        raise OidcError("the ID token is signed with a key the provider does not publish")

    def logout_url(self, provider: Provider, return_to: str) -> str | None:
        """Where to send the browser to end the provider's session too (RP-initiated logout)."""
        if provider.end_session_endpoint is None:
            return None
        query = urlencode({"client_id": self._settings.client_id, "post_logout_redirect_uri": return_to})
        separator = "&" if "?" in provider.end_session_endpoint else "?"
        return f"{provider.end_session_endpoint}{separator}{query}"

    async def _json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url)
        except httpx.HTTPError as error:
            raise self._unavailable(error) from None
        if response.status_code != 200:
            raise ProviderUnavailable(f"the identity provider answered HTTP {response.status_code}")
        return _object(response)

    def _unavailable(self, error: httpx.HTTPError) -> ProviderUnavailable:
        log.error("OIDC provider %s unavailable: %s: %s", self.issuer, type(error).__name__, error)
        return ProviderUnavailable("the identity provider is unavailable; try again later")


def _client_basic(client_id: str, secret: SecretStr) -> str:
    """client_secret_basic: id and secret form-encoded before they are joined (RFC 6749 2.3.1)."""
    pair = f"{quote(client_id, safe='')}:{quote(secret.get_secret_value(), safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _object(response: httpx.Response) -> dict[str, Any]:
    if len(response.content) > _MAX_DOCUMENT_BYTES:
        raise ProviderUnavailable("the identity provider's answer is too large")
    try:
        document = json.loads(response.content)
    except ValueError:
        raise ProviderUnavailable("the identity provider's answer is not JSON") from None
    if not isinstance(document, dict):
        raise ProviderUnavailable("the identity provider's answer is not a JSON object")
    return document

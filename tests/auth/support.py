"""Servers with authentication on, their users and policy, and the tokens tests need (fetched from the
token endpoint, or forged with the server's own key or another one)."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tests.http.ocitest import RegistryClient
from tests.support.server import DockyardServer

from dockyard.auth.htpasswd import set_user

# Cost 4: the tests create users often; the server accepts any bcrypt cost.
TEST_COST = 4

PASSWORDS = {
    "admin": "admin-secret-1",
    "writer": "writer-secret-2",
    "reader": "reader-secret-3",
    "nobody": "nobody-secret-4",
    "tagger": "tagger-secret-5",
}

# writer: pull and push under team/ (no delete, no overwrite); reader (group readers): pull under team/;
# tagger: push and overwrite under team/; nobody: nothing; admin: everything.
RULES: list[dict[str, Any]] = [
    {"repositories": ["**"], "users": ["admin"], "actions": ["pull", "push", "delete", "overwrite"]},
    {"repositories": ["team/**"], "groups": ["readers"], "actions": ["pull"]},
    {"repositories": ["team/**"], "users": ["writer"], "actions": ["push"]},
    {"repositories": ["team/**"], "users": ["tagger"], "actions": ["pull", "push", "overwrite"]},
]
GROUPS = {"readers": ["reader", "writer"]}
ANONYMOUS = ["public/**"]


def write_users(path: Path, names: list[str] | None = None) -> Path:
    for name in names or list(PASSWORDS):
        set_user(path, name, PASSWORDS[name], cost=TEST_COST)
    return path


def auth_config(directory: Path, token_mode: bool, **overrides: Any) -> Path:
    """A config file with the test users and policy; `overrides` replace keys of `auth`."""
    htpasswd = directory / "htpasswd"
    if not htpasswd.exists():
        write_users(htpasswd)
    auth: dict[str, Any] = {
        "htpasswd": str(htpasswd),
        "rules": RULES,
        "groups": GROUPS,
        "anonymous": ANONYMOUS,
        "failed_logins_per_minute": 100000,
    }
    if token_mode:
        auth["token"] = {"enabled": True, "key_file": str(directory / "token-key.pem")}
    for key, value in overrides.items():
        if key == "token":
            auth.setdefault("token", {}).update(value)
        else:
            auth[key] = value
    config = directory / "config.yaml"
    config.write_text(yaml.safe_dump({"auth": auth}))
    return config


def start_server(
    directory: Path, token_mode: bool, env: dict[str, str] | None = None, **overrides: Any
) -> DockyardServer:
    """`env`: more DOCKYARD_* settings, such as a backend's (tests/support/backends.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = auth_config(directory, token_mode, **overrides)
    return DockyardServer(directory / "data", ["--config", str(config)], env=env).start()


def basic(user: str, password: str | None = None) -> dict[str, str]:
    credentials = f"{user}:{PASSWORDS[user] if password is None else password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(credentials).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fetch_token(url: str, user: str | None, *scopes: str, service: str = "dockyard") -> str:
    headers = basic(user) if user else {}
    params = [("service", service), *(("scope", scope) for scope in scopes)]
    response = httpx.get(f"{url}/auth/token", params=params, headers=headers)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def claims_of(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def forged(
    key: Any,
    access: list[dict[str, Any]],
    *,
    subject: str = "admin",
    issuer: str = "dockyard",
    audience: str = "dockyard",
    lifetime: int = 300,
    algorithm: str = "ES256",
    headers: dict[str, Any] | None = None,
) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "sub": subject, "aud": audience, "iat": now, "nbf": now, "exp": now + lifetime}
    return jwt.encode({**claims, "access": access}, key, algorithm, headers=headers)


def repository_access(name: str, *actions: str) -> list[dict[str, Any]]:
    return [{"type": "repository", "name": name, "actions": list(actions)}]


def server_key(directory: Path) -> Any:
    return serialization.load_pem_private_key((directory / "token-key.pem").read_bytes(), password=None)


def other_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def unsigned(access: list[dict[str, Any]], subject: str = "admin") -> str:
    """A token with `alg: none` and no signature, as an attacker would send it."""
    now = int(time.time())
    claims = {"iss": "dockyard", "sub": subject, "aud": "dockyard", "exp": now + 300, "access": access}

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def challenge(response: httpx.Response) -> str:
    value: str = response.headers.get("www-authenticate", "")
    return value


@dataclass
class AuthServer:
    server: DockyardServer
    directory: Path
    token_mode: bool

    @property
    def url(self) -> str:
        return self.server.url

    def admin(self) -> RegistryClient:
        """A client that may do everything (Basic credentials, or a token-fetching flow)."""
        client = RegistryClient(self.url)
        client.http.auth = (
            TokenFlow(self.url, "admin") if self.token_mode else httpx.BasicAuth("admin", PASSWORDS["admin"])
        )
        return client


class TokenFlow(httpx.Auth):
    """What docker does: on a Bearer challenge, fetch a token for the challenge's scope and retry."""

    requires_request_body = True

    def __init__(self, url: str, user: str, password: str | None = None):
        self._url = url
        self._user = user
        self._password = password
        self._tokens: dict[str, str] = {}

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        scope = _scope_of_path(request.url.path)
        if scope in self._tokens:
            request.headers["Authorization"] = f"Bearer {self._tokens[scope]}"
        response = yield request
        if response.status_code != 401:
            return
        challenge = response.headers.get("www-authenticate", "")
        wanted = challenge.split('scope="', 1)[1].split('"', 1)[0] if 'scope="' in challenge else None
        params = [("service", "dockyard")] + ([("scope", wanted)] if wanted else [])
        source = request.url.params.get("from")
        if source and request.url.params.get("mount"):  # docker asks for the mount's source too
            params.append(("scope", f"repository:{source}:pull"))
        answer = httpx.get(f"{self._url}/auth/token", params=params, headers=basic(self._user, self._password))
        answer.raise_for_status()
        self._tokens[scope] = answer.json()["token"]
        request.headers["Authorization"] = f"Bearer {self._tokens[scope]}"
        yield request


def _scope_of_path(path: str) -> str:
    """A cache key for tokens: the repository and whether the request writes."""
    for marker in ("/blobs/", "/manifests/", "/tags/", "/referrers/"):
        if marker in path:
            return path.split(marker, 1)[0]
    return path


@contextlib.contextmanager
def running(
    directory: Path, token_mode: bool, env: dict[str, str] | None = None, **overrides: Any
) -> Iterator[AuthServer]:
    server = start_server(directory, token_mode, env, **overrides)
    try:
        yield AuthServer(server, directory, token_mode)
    finally:
        server.stop()

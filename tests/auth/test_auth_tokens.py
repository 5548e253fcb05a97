"""The token endpoint (GET and the OAuth2 POST form), what tokens carry, and external issuers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import ECAlgorithm
from tests.auth.support import (
    PASSWORDS,
    TEST_COST,
    AuthServer,
    basic,
    bearer,
    claims_of,
    fetch_token,
    forged,
    other_key,
    repository_access,
    server_key,
    start_server,
)
from tests.http.ocitest import error_codes
from tests.support.wait import wait_until

from dockyard.auth.htpasswd import remove_user, set_user


def _access(token: str) -> dict[str, list[str]]:
    return {entry["name"]: entry["actions"] for entry in claims_of(token)["access"]}


def test_get_answers_a_token_with_requested_intersected_with_allowed(token_server: AuthServer) -> None:
    response = httpx.get(
        f"{token_server.url}/auth/token",
        params=[
            ("service", "dockyard"),
            ("scope", "repository:team/app:pull,push,delete"),
            ("scope", "repository:private/app:pull"),
        ],
        headers=basic("writer"),
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["token"] == answer["access_token"]
    assert answer["expires_in"] == 300
    assert answer["issued_at"].endswith("Z")
    claims = claims_of(answer["token"])
    assert (claims["iss"], claims["aud"], claims["sub"]) == ("dockyard", "dockyard", "writer")
    assert 300 <= claims["exp"] - claims["iat"] <= 301
    assert _access(answer["token"]) == {"team/app": ["pull", "push"], "private/app": []}
    assert jwt.get_unverified_header(answer["token"])["alg"] == "ES256"
    assert oct((token_server.directory / "token-key.pem").stat().st_mode & 0o777) == "0o600"
    assert response.headers["cache-control"] == "no-store"


def test_space_separated_scopes_in_one_parameter(token_server: AuthServer) -> None:
    token = fetch_token(token_server.url, "reader", "repository:team/a:pull repository:team/b:pull")
    assert _access(token) == {"team/a": ["pull"], "team/b": ["pull"]}


def test_anonymous_tokens_carry_anonymous_pulls_only(token_server: AuthServer) -> None:
    token = fetch_token(token_server.url, None, "repository:public/base:pull,push", "repository:team/app:pull")
    assert _access(token) == {"public/base": ["pull"], "team/app": []}
    with token_server.admin() as admin:
        admin.push_image("public/base", "v1")
    response = httpx.get(f"{token_server.url}/v2/public/base/manifests/v1", headers=bearer(token))
    assert response.status_code == 200
    # Without any token, anonymous pulls of public repositories work too.
    assert httpx.get(f"{token_server.url}/v2/public/base/manifests/v1").status_code == 200


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ([("service", "elsewhere")], 400),
        ([("service", "dockyard"), ("scope", "nonsense")], 400),
        ([("service", "dockyard"), ("scope", "repository::pull")], 400),
    ],
)
def test_bad_token_requests(token_server: AuthServer, params: list[tuple[str, str]], status: int) -> None:
    response = httpx.get(f"{token_server.url}/auth/token", params=params, headers=basic("admin"))
    assert response.status_code == status
    assert error_codes(response)


def test_oauth2_password_and_refresh_grants(token_server: AuthServer) -> None:
    url = f"{token_server.url}/auth/token"
    form = {
        "grant_type": "password",
        "username": "writer",
        "password": PASSWORDS["writer"],
        "service": "dockyard",
        "scope": "repository:team/app:pull,push repository:team/other:pull",
        "client_id": "docker",
        "access_type": "offline",
    }
    response = httpx.post(url, data=form)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert _access(answer["access_token"]) == {"team/app": ["pull", "push"], "team/other": ["pull"]}
    refresh = answer["refresh_token"]
    # A refresh token is not an access token.
    assert httpx.get(f"{token_server.url}/v2/", headers=bearer(refresh)).status_code == 401
    refreshed = httpx.post(
        url, data={"grant_type": "refresh_token", "refresh_token": refresh, "service": "dockyard", "scope": ""}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert claims_of(refreshed.json()["access_token"])["sub"] == "writer"
    assert httpx.get(f"{token_server.url}/v2/", headers=bearer(refreshed.json()["access_token"])).status_code == 200


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": "writer", "password": "wrong"},
        {"grant_type": "refresh_token", "refresh_token": "not-a-token"},
        {"grant_type": "client_credentials"},
    ],
    ids=["wrong-password", "bad-refresh-token", "unsupported-grant"],
)
def test_oauth2_refusals(token_server: AuthServer, form: dict[str, str]) -> None:
    response = httpx.post(f"{token_server.url}/auth/token", data={**form, "service": "dockyard"})
    assert response.status_code in (400, 401)
    assert error_codes(response)
    assert "wrong" not in response.text


def test_a_removed_user_cannot_refresh(token_server: AuthServer) -> None:
    htpasswd = token_server.directory / "htpasswd"
    set_user(htpasswd, "leaver", "leaver-secret", cost=TEST_COST)
    url = f"{token_server.url}/auth/token"
    login = {"grant_type": "password", "username": "leaver", "password": "leaver-secret", "access_type": "offline"}

    def log_in() -> httpx.Response | None:
        response = httpx.post(url, data=login)
        return response if response.status_code == 200 else None

    refresh = wait_until(log_in, 20, "the server never picked up the new user").json()["refresh_token"]
    remove_user(htpasswd, "leaver")
    refresh_form = {"grant_type": "refresh_token", "refresh_token": refresh}
    wait_until(
        lambda: httpx.post(url, data=refresh_form).status_code == 401, 20, "the removed user could still refresh"
    )


def test_token_endpoint_is_absent_in_basic_mode(basic_server: AuthServer) -> None:
    assert httpx.get(f"{basic_server.url}/auth/token", headers=basic("admin")).status_code == 404


# -- external issuers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AuthServer, rsa.RSAPrivateKey, object]]:
    """A token-mode server trusting `gitlab` (an RSA PEM public key) and `harbor` (a JWKS with an EC key
    and a symmetric key that must never be trusted)."""
    directory = tmp_path_factory.mktemp("external")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = directory / "gitlab.pem"
    pem.write_bytes(
        rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    ec_key = other_key()
    jwk = ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True) | {"kid": "harbor-1", "alg": "ES256"}
    jwks = directory / "harbor.jwks"
    jwks.write_text(json.dumps({"keys": [jwk, {"kty": "oct", "k": "c2VjcmV0", "kid": "sym"}]}))
    server = start_server(
        directory,
        token_mode=True,
        token={
            "trusted_issuers": [
                {"issuer": "gitlab", "public_key_file": str(pem)},
                {"issuer": "harbor", "jwks_file": str(jwks)},
            ]
        },
    )
    try:
        yield AuthServer(server, directory, token_mode=True), rsa_key, ec_key
    finally:
        server.stop()


def _hs256(claims: dict[str, object], secret: bytes) -> str:
    """An HMAC-signed token made by hand (the JWT library refuses a public key as an HMAC secret)."""

    def part(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + b"." + part(json.dumps(claims).encode())
    signature = hmac.digest(secret, signing_input, hashlib.sha256)
    return (signing_input + b"." + part(signature)).decode()


def _get(server: AuthServer, token: str, repository: str = "team/ext") -> int:
    return httpx.get(f"{server.url}/v2/{repository}/tags/list", headers=bearer(token)).status_code


def test_external_issuers_tokens_are_accepted(external: tuple[AuthServer, rsa.RSAPrivateKey, object]) -> None:
    server, rsa_key, ec_key = external
    access = repository_access("team/ext", "pull")
    gitlab = forged(rsa_key, access, issuer="gitlab", algorithm="RS256", subject="ci")
    assert _get(server, gitlab) == 404  # let through: the repository does not exist
    harbor = forged(ec_key, access, issuer="harbor", headers={"kid": "harbor-1"})
    assert _get(server, harbor) == 404
    assert _get(server, gitlab, "team/other") == 401


def test_external_tokens_are_checked_like_our_own(external: tuple[AuthServer, rsa.RSAPrivateKey, object]) -> None:
    server, rsa_key, ec_key = external
    access = repository_access("team/ext", "pull")
    public_pem = (server.directory / "gitlab.pem").read_bytes()
    refused = [
        forged(rsa_key, access, issuer="harbor", algorithm="RS256"),  # signed by another issuer's key
        forged(ec_key, access, issuer="harbor", headers={"kid": "other"}),  # unknown key id
        forged(rsa_key, access, issuer="gitlab", algorithm="RS256", audience="elsewhere"),
        forged(rsa_key, access, issuer="gitlab", algorithm="RS256", lifetime=-60),
        forged(ec_key, access, issuer="nobody-we-know"),
        # HS256 with the public key as the secret: the classic algorithm confusion.
        _hs256(
            {"iss": "gitlab", "aud": "dockyard", "sub": "x", "exp": int(time.time()) + 60, "access": access}, public_pem
        ),
        # HS256 with the JWKS's symmetric key.
        _hs256({"iss": "harbor", "aud": "dockyard", "exp": int(time.time()) + 60, "access": access}, b"secret"),
    ]
    for token in refused:
        assert _get(server, token) == 401


def test_a_bad_trusted_issuer_key_stops_the_server(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(RuntimeError, match="not a PEM public key"):
        start_server(
            tmp_path, token_mode=True, token={"trusted_issuers": [{"issuer": "x", "public_key_file": str(bad)}]}
        )


# -- tokens in the wrong place, scope names -------------------------------------------------------


def _expired(token_server: AuthServer, audience: str, access: list[dict[str, object]] | None = None) -> str:
    key = server_key(token_server.directory)
    return forged(key, access or [], subject="writer", audience=audience, lifetime=-3600)


@pytest.mark.parametrize(
    ("sent_as", "audience"),
    [
        ("refresh", "dockyard"),  # an expired access token sent as a refresh token
        ("bearer", "dockyard#refresh"),  # an expired refresh token sent as an access token
        ("bearer", "another-service"),  # an expired token for another service
        ("refresh", "another-service"),
    ],
)
def test_an_expired_token_in_the_wrong_place_is_401(token_server: AuthServer, sent_as: str, audience: str) -> None:
    token = _expired(token_server, audience, repository_access("team/app", "pull"))
    if sent_as == "refresh":
        form = {"grant_type": "refresh_token", "refresh_token": token, "service": "dockyard"}
        response = httpx.post(f"{token_server.url}/auth/token", data=form)
    else:
        response = httpx.get(f"{token_server.url}/v2/team/app/tags/list", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert error_codes(response) == ["UNAUTHORIZED"]


@pytest.mark.parametrize(
    "name",
    ["public/../secret/xyz", "public//x", "secret/xyz/", "public/" + "a" * 60_000, "public/UPPER", "public/x@y"],
)
def test_scopes_must_name_valid_repositories(token_server: AuthServer, name: str) -> None:
    params = [("service", "dockyard"), ("scope", f"repository:{name}:pull")]
    response = httpx.get(f"{token_server.url}/auth/token", params=params)
    assert response.status_code == 400
    assert error_codes(response) == ["NAME_INVALID"]
    assert len(response.text) < 1000


def test_no_log_line_carries_a_whole_huge_name(token_server: AuthServer) -> None:
    before = len(token_server.server.log())
    huge = "public/" + "a" * 60_000
    for path in (f"/v2/{huge}/tags/list", f"/auth/token?service=dockyard&scope=repository:{huge}:pull"):
        httpx.get(token_server.url + path, headers=basic("admin"))
    logged = token_server.server.log()[before:]
    assert "a" * 2000 not in logged

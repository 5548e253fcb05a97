"""A push that outlives its token: with 2-second tokens, an upload session opened under a valid token
keeps accepting its PATCH and PUT (with the expired token) until its grant runs out; nothing else does."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.auth.support import AuthServer, bearer, fetch_token, start_server
from tests.http.ocitest import digest_of, with_query
from tests.support.wait import wait_until

REPO = "team/long-push"


@pytest.fixture(scope="module")
def short_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    directory = tmp_path_factory.mktemp("short-tokens")
    server = start_server(directory, token_mode=True, token={"expiry_seconds": 2, "leeway_seconds": 0})
    try:
        yield AuthServer(server, directory, token_mode=True)
    finally:
        server.stop()


def _wait_until_expired(server: AuthServer, token: str) -> None:
    """Until the server itself refuses the token."""
    wait_until(
        lambda: httpx.get(f"{server.url}/v2/", headers=bearer(token)).status_code == 401,
        30,
        "the 2-second token never expired",
        interval=0.25,
    )


def _patch(url: str, location: str, token: str, data: bytes, start: int) -> httpx.Response:
    headers = {
        **bearer(token),
        "Content-Type": "application/octet-stream",
        "Content-Range": f"{start}-{start + len(data) - 1}",
    }
    return httpx.patch(url + location, content=data, headers=headers)


def test_an_upload_outlives_its_token(short_tokens: AuthServer) -> None:
    url = short_tokens.url
    token = fetch_token(url, "writer", f"repository:{REPO}:pull,push")
    opened = httpx.post(f"{url}/v2/{REPO}/blobs/uploads/", headers=bearer(token))
    assert opened.status_code == 202, opened.text
    location = opened.headers["location"]
    assert "_grant=" in location
    first, second = b"a" * 1000, b"b" * 1000
    patched = _patch(url, location, token, first, 0)
    assert patched.status_code == 202, patched.text
    location = patched.headers["location"]

    _wait_until_expired(short_tokens, token)
    patched = _patch(url, location, token, second, len(first))
    assert patched.status_code == 202, patched.text
    assert httpx.get(url + patched.headers["location"], headers=bearer(token)).status_code == 204
    digest = digest_of(first + second)
    finished = httpx.put(url + str(with_query(patched.headers["location"], digest=digest)), headers=bearer(token))
    assert finished.status_code == 201, finished.text

    fresh = fetch_token(url, "reader", f"repository:{REPO}:pull")
    assert httpx.get(f"{url}/v2/{REPO}/blobs/{digest}", headers=bearer(fresh)).content == first + second


def test_the_grant_covers_only_its_session_and_subject(short_tokens: AuthServer) -> None:
    url = short_tokens.url
    writer = fetch_token(url, "writer", f"repository:{REPO}:pull,push")
    opened = [httpx.post(f"{url}/v2/{REPO}/blobs/uploads/", headers=bearer(writer)) for _ in range(2)]
    assert [response.status_code for response in opened] == [202, 202], "the token expired before use"
    location, other = (response.headers["location"] for response in opened)
    tagger = fetch_token(url, "tagger", f"repository:{REPO}:pull,push")
    path, _, grant = location.partition("?")
    _wait_until_expired(short_tokens, writer)
    _wait_until_expired(short_tokens, tagger)

    def status(target: str, token: str) -> int:
        return _patch(url, target, token, b"x", 0).status_code

    assert status(path, writer) == 401, "no grant: the expired token alone is refused"
    assert status(other.partition("?")[0] + "?" + grant, writer) == 401, "another session's grant"
    assert status(location, tagger) == 401, "another user's expired token"
    assert status(location.replace("_grant=", "_grant=1"), writer) == 401, "a tampered grant"
    assert httpx.post(f"{url}/v2/{REPO}/blobs/uploads/", headers=bearer(writer)).status_code == 401
    assert status(location, writer) == 202

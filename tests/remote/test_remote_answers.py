"""Nothing a remote answers is believed unchecked: manifest digests, redirect targets (which never get
our credentials), upload locations, pagination links, ranges, error bodies, token answers."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from aiohttp import web
from tests.remote.scripted import Scripted, error_response
from tests.remote.support import factory, pull_blob, run

from dockyard.core.digest import Digest
from dockyard.remote import (
    RemoteClient,
    RemoteDenied,
    RemoteInvalid,
    RemoteNotFound,
    RemoteSettings,
    RemoteUnavailable,
    Secret,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": []}).encode()
OTHER = MANIFEST + b" "
DATA = bytes(range(256)) * 40
BLOB = Digest.of(DATA)
BASIC = "Basic " + base64.b64encode(b"puller:pull-secret").decode()
SIGNED_QUERY = "X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1&X-Amz-Signature=ab%2Fcd%3D"


def with_credentials(url: str) -> RemoteSettings:
    return RemoteSettings(url, username="puller", password=Secret("pull-secret"))


def test_redirects_take_credentials_only_to_the_remote() -> None:
    async def storage_handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/bucket/expired":
            return web.Response(status=403, text="Request has expired")
        return web.Response(body=DATA)

    storage = Scripted(storage_handler, host="localhost")  # another host than the remote's 127.0.0.1

    async def remote_handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != BASIC:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="remote"'})
        if request.path == f"/v2/team/app/blobs/{BLOB}":
            if request.method == "HEAD":
                return web.Response(status=307, headers={"Location": f"/v2/mirror/blobs/{BLOB}"})
            return web.Response(status=307, headers={"Location": f"{storage.url}/bucket/blob?{SIGNED_QUERY}"})
        if request.path == f"/v2/mirror/blobs/{BLOB}":
            return web.Response(headers={"Content-Length": str(len(DATA))})
        return web.Response(status=307, headers={"Location": f"{storage.url}/bucket/expired?{SIGNED_QUERY}"})

    async def scenario() -> None:
        async with storage, Scripted(remote_handler) as remote:
            async with RemoteClient(with_credentials(remote.url)) as client:
                assert await pull_blob(client, "team/app", BLOB) == DATA
                assert await client.head_blob("team/app", BLOB) == len(DATA)
                with pytest.raises(RemoteDenied) as expired:
                    await pull_blob(client, "team/other", BLOB)
            assert [seen.authorization for seen in storage.seen] == [None, None]
            assert storage.seen[0].path_qs == f"/bucket/blob?{SIGNED_QUERY}"  # not re-quoted
            assert [seen.authorization for seen in remote.seen[1:]] == [BASIC] * (len(remote.seen) - 1)
            assert any(seen.path_qs.startswith("/v2/mirror/") for seen in remote.seen)
            assert "Signature" not in str(expired.value)
            assert "AKIDEXAMPLE" not in str(expired.value)

    run(scenario())


def test_manifests_are_checked_against_their_digest() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        reference = request.path.rsplit("/", 1)[1]
        if reference == str(Digest.of(MANIFEST)):
            return web.Response(body=OTHER, content_type=OCI_MANIFEST)  # not what was asked for
        if reference == "lying":
            headers = {"Docker-Content-Digest": str(Digest.of(OTHER))}
            return web.Response(body=MANIFEST, content_type=OCI_MANIFEST, headers=headers)
        if reference == "silent":  # no digest, a generic type: computed, and read from the body
            return web.Response(body=MANIFEST if request.method == "GET" else None, content_type="application/json")
        return error_response(404, "MANIFEST_UNKNOWN")

    async def scenario() -> None:
        async with Scripted(handler) as server, RemoteClient(RemoteSettings(server.url)) as client:
            with pytest.raises(RemoteInvalid, match="digest"):
                await client.get_manifest("r", Digest.of(MANIFEST))
            with pytest.raises(RemoteInvalid, match="digest"):
                await client.get_manifest("r", "lying")
            assert await client.get_manifest("r", "silent") == (Digest.of(MANIFEST), OCI_MANIFEST, MANIFEST)
            assert await client.head_manifest("r", "silent") == (Digest.of(MANIFEST), OCI_MANIFEST, len(MANIFEST))
            assert [seen.method for seen in server.seen[-2:]] == ["HEAD", "GET"]  # HEAD told too little
            with pytest.raises(RemoteNotFound) as unknown:
                await client.get_manifest("r", "gone")
            assert unknown.value.codes == ("MANIFEST_UNKNOWN",)

    run(scenario())


def test_locations_and_links_stay_on_the_remote() -> None:
    async def elsewhere_handler(_: web.Request) -> web.StreamResponse:
        return web.Response(status=202)

    elsewhere = Scripted(elsewhere_handler, host="localhost")

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/v2/away/blobs/uploads/":
            return web.Response(status=202, headers={"Location": f"{elsewhere.url}/v2/away/blobs/uploads/1"})
        if request.path == "/v2/climb/blobs/uploads/":
            return web.Response(status=202, headers={"Location": "/v2/climb/../../admin/uploads/1"})
        if request.path == "/v2/paged/tags/list":
            link = f'<{elsewhere.url}/v2/paged/tags/list?n=1&last=a>; rel="next"'
            return web.json_response({"name": "paged", "tags": ["a"]}, headers={"Link": link})
        if request.path == "/v2/bad/tags/list":
            return web.json_response({"name": "bad", "tags": ["ok", "../../etc"]})
        return error_response(400, "NAME_INVALID")

    async def scenario() -> None:
        async with elsewhere, Scripted(handler) as server, RemoteClient(RemoteSettings(server.url)) as client:
            for repository in ("away", "climb"):
                with pytest.raises(RemoteInvalid, match="Location"):
                    await client.upload_blob(repository, BLOB, len(DATA), factory(DATA))
            with pytest.raises(RemoteInvalid, match="next link"):
                await client.list_tags("paged")
            with pytest.raises(RemoteInvalid, match="tags is not a list of valid tags"):
                await client.list_tags("bad")
            with pytest.raises(RemoteInvalid) as refused:
                await client.get_manifest("other", "v1")
            assert (refused.value.status, refused.value.codes) == (400, ("NAME_INVALID",))
            assert elsewhere.seen == []

    run(scenario())


def test_ranges_are_checked() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/v2/honest/"):
            start = int(request.headers["Range"].removeprefix("bytes=").rstrip("-"))
            headers = {"Content-Range": f"bytes {start}-{len(DATA) - 1}/{len(DATA)}"}
            return web.Response(status=206, body=DATA[start:], headers=headers)
        if request.path.startswith("/v2/ignores/"):
            return web.Response(body=DATA)  # a 200 with everything
        headers = {"Content-Range": f"bytes 0-{len(DATA) - 1}/{len(DATA)}"}  # not the range asked for
        return web.Response(status=206, body=DATA, headers=headers)

    async def scenario() -> None:
        async with Scripted(handler) as server, RemoteClient(RemoteSettings(server.url)) as client:
            assert await pull_blob(client, "honest/r", BLOB, start=1000) == DATA[1000:]
            assert await pull_blob(client, "ignores/r", BLOB, start=1000) == DATA[1000:]
            with pytest.raises(RemoteInvalid, match="Content-Range"):
                await pull_blob(client, "liar/r", BLOB, start=1000)

    run(scenario())


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (web.Response(text="<html>not json</html>"), RemoteInvalid, "did not answer JSON"),
        (web.json_response({"expires_in": 60}), RemoteInvalid, "no token"),
        (web.Response(status=401), RemoteDenied, "credentials were refused"),
        (web.Response(status=302, headers={"Location": "http://localhost/steal"}), RemoteInvalid, "HTTP 302"),
    ],
)
def test_bad_token_answers(answer: web.Response, error: type[Exception], message: str) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/token":
            return answer
        challenge = f'Bearer realm="http://127.0.0.1:{request.url.port}/token",service="registry"'
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    async def scenario() -> None:
        async with Scripted(handler) as server:
            async with RemoteClient(with_credentials(server.url)) as client:
                with pytest.raises(error, match=message):
                    await client.check()
            assert [seen.path_qs for seen in server.seen] == ["/v2/", "/token?service=registry"]

    run(scenario())


def test_a_failing_token_fetch_is_shared_too() -> None:
    """50 calls waiting for the same token share one failed fetch instead of queueing 50 of them."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/token":
            await asyncio.sleep(0.05)  # a slow realm, so that every call finds the fetch under way
            return error_response(503, "UNAVAILABLE")
        challenge = f'Bearer realm="http://127.0.0.1:{request.url.port}/token",service="registry"'
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    async def scenario() -> None:
        async with Scripted(handler) as server:
            async with RemoteClient(RemoteSettings(server.url, breaker_failures=100, max_connections=50)) as client:
                outcomes = await asyncio.gather(
                    *(client.head_blob("team/app", BLOB) for _ in range(50)), return_exceptions=True
                )
            assert all(isinstance(outcome, RemoteUnavailable) for outcome in outcomes)
            assert server.count() == 51  # 50 challenged calls, 1 token request
            assert sum(seen.path_qs.startswith("/token") for seen in server.seen) == 1

    run(scenario())

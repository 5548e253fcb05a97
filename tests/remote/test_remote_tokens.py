"""The Docker token flow against dockyard in token mode (what Docker Hub does), Basic auth, the realm
check, single-flight token fetches, and credentials kept out of logs and errors."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path

import pytest
from tests.auth.support import PASSWORDS, start_server
from tests.remote.conftest import TokenDockyard, start_token_dockyard
from tests.remote.support import image, push, run

from dockyard.remote import RemoteClient, RemoteCounters, RemoteDenied, RemoteSettings, Secret

TOKEN_PATH = "/auth/token"


def test_anonymous_pulls_what_anonymous_may(token_dockyard: TokenDockyard) -> None:
    repository = f"public/{uuid.uuid4().hex[:12]}"
    item = image(repository)

    async def scenario() -> None:
        async with RemoteClient(token_dockyard.settings("admin")) as admin:
            await push(admin, repository, item, "v1")
        async with RemoteClient(token_dockyard.settings(None)) as anonymous:
            await anonymous.check()
            assert (await anonymous.get_manifest(repository, "v1")).body == item.manifest
            with pytest.raises(RemoteDenied):
                await anonymous.put_manifest(repository, "v2", item.media_type, item.manifest)
            with pytest.raises(RemoteDenied):
                await anonymous.get_manifest(f"team/{uuid.uuid4().hex[:8]}", "v1")

    run(scenario())


def test_rights_come_from_the_users_token(token_dockyard: TokenDockyard) -> None:
    repository = f"team/{uuid.uuid4().hex[:12]}"
    item = image(repository)

    async def scenario() -> None:
        async with RemoteClient(token_dockyard.settings("writer")) as writer:
            await push(writer, repository, item, "v1")
        async with RemoteClient(token_dockyard.settings("reader")) as reader:
            assert (await reader.head_manifest(repository, "v1")).digest == item.digest
            with pytest.raises(RemoteDenied) as refused:
                await reader.put_manifest(repository, "v2", item.media_type, item.manifest)
            assert refused.value.status in (401, 403)
        async with RemoteClient(token_dockyard.settings("nobody")) as nobody:
            with pytest.raises(RemoteDenied):
                await nobody.get_manifest(repository, "v1")

    run(scenario())


def test_wrong_password_is_denied_without_showing_it(
    token_dockyard: TokenDockyard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + uuid.uuid4().hex
    settings = RemoteSettings(token_dockyard.url, username="reader", password=Secret(wrong))

    async def scenario() -> RemoteDenied:
        async with RemoteClient(settings) as client:
            with pytest.raises(RemoteDenied) as refused:
                await client.get_manifest("team/anything", "v1")
            # the right credentials, for contrast: logged at DEBUG, and still never shown
            async with RemoteClient(token_dockyard.settings("reader")) as right:
                with pytest.raises(RemoteDenied):
                    await right.put_manifest("team/anything", "v1", "application/json", b"{}")
            return refused.value

    error = run(scenario())
    assert "credentials were refused" in str(error)
    shown = f"{error} {error!r} {settings!r} {settings} {caplog.text}"
    for secret in (wrong, PASSWORDS["reader"]):
        assert secret not in shown
    assert "Secret('**********')" in repr(Secret(wrong))


def test_one_token_for_fifty_concurrent_calls(token_dockyard: TokenDockyard) -> None:
    """Single flight: 50 concurrent calls needing the same scope cause one token request, and the
    token is reused from the cache afterwards; another scope set gets its own."""
    repository = f"team/{uuid.uuid4().hex[:12]}"
    other = f"team/{uuid.uuid4().hex[:12]}"
    item = image(repository)
    counters = RemoteCounters()

    async def scenario() -> None:
        async with RemoteClient(token_dockyard.settings("admin")) as admin:
            await push(admin, repository, item, "v1")
            await push(admin, other, item, "v1")
        before = token_dockyard.logged(TOKEN_PATH)
        async with RemoteClient(token_dockyard.settings("reader"), counters) as client:
            heads = await asyncio.gather(*(client.head_manifest(repository, "v1") for _ in range(50)))
            assert {head.digest for head in heads} == {item.digest}
            assert token_dockyard.logged(TOKEN_PATH) == before + 1
            await asyncio.gather(*(client.get_manifest(repository, "v1") for _ in range(50)))
            assert token_dockyard.logged(TOKEN_PATH) == before + 1
            await asyncio.gather(*(client.head_blob(other, digest) for digest in item.blobs for _ in range(25)))
            assert token_dockyard.logged(TOKEN_PATH) == before + 2

    run(scenario())
    assert counters.token_fetches == 2


def test_token_is_replaced_before_it_expires(tmp_path: Path) -> None:
    """With 2-second tokens, calls keep working across expiries: the token is fetched again shortly
    before it expires, so no request is sent with a stale one (one 401 ever: the first contact)."""
    registry = start_token_dockyard(tmp_path / "short-tokens", token={"expiry_seconds": 2})
    repository = f"team/{uuid.uuid4().hex[:12]}"
    item = image(repository)
    counters = RemoteCounters()
    try:

        async def scenario() -> None:
            async with RemoteClient(registry.settings("admin")) as admin:
                await push(admin, repository, item, "v1")
            async with RemoteClient(registry.settings("reader"), counters) as client:
                deadline = time.monotonic() + 20
                while counters.token_fetches < 3:
                    assert time.monotonic() < deadline, "the token was never fetched again"
                    assert (await client.head_manifest(repository, "v1")).digest == item.digest
                    await asyncio.sleep(0.05)

        run(scenario())
    finally:
        registry.server.stop()
    assert counters.requests[("HEAD", 401)] == 1
    assert counters.requests[("HEAD", 200)] >= 3


def test_token_realm_on_a_foreign_host_is_refused(tmp_path: Path) -> None:
    """A remote whose challenge names a realm on another host: the client refuses before dialling it,
    so the realm never sees the credentials; listed in trusted_token_realms, the realm is used."""
    foreign = start_token_dockyard(tmp_path / "foreign")
    realm_host = f"localhost:{foreign.server.port}"
    remote = start_server(
        tmp_path / "remote",
        True,
        external_url=f"http://{realm_host}",
        token={"key_file": str(foreign.directory / "token-key.pem")},  # the foreign realm's tokens are valid here
    )
    repository = f"team/{uuid.uuid4().hex[:12]}"
    try:
        before = foreign.logged(TOKEN_PATH)

        async def scenario() -> None:
            settings = RemoteSettings(remote.url, username="writer", password=Secret(PASSWORDS["writer"]))
            async with RemoteClient(settings) as client:
                with pytest.raises(RemoteDenied) as refused:
                    await client.get_manifest(repository, "v1")
                assert realm_host in str(refused.value)
                assert "trusted_token_realms" in str(refused.value)
            assert foreign.logged(TOKEN_PATH) == before
            trusting = RemoteSettings(
                remote.url,
                username="writer",
                password=Secret(PASSWORDS["writer"]),
                trusted_token_realms=(realm_host,),
            )
            async with RemoteClient(trusting) as client:
                item = image(repository)
                await push(client, repository, item, "v1")
                assert (await client.get_manifest(repository, "v1")).body == item.manifest
            assert foreign.logged(TOKEN_PATH) == before + 2  # one per scope set: pull, and pull+push

        run(scenario())
    finally:
        remote.stop()
        foreign.server.stop()


def test_basic_auth_remote(tmp_path: Path) -> None:
    """A remote with Basic auth: the challenge is answered with the credentials, which later requests
    carry up front; without credentials the remote's refusal is clear."""
    server = start_server(tmp_path / "basic", False)
    repository = f"team/{uuid.uuid4().hex[:12]}"
    item = image(repository)
    counters = RemoteCounters()
    try:

        async def scenario() -> None:
            settings = RemoteSettings(server.url, username="admin", password=Secret(PASSWORDS["admin"]))
            async with RemoteClient(settings, counters) as client:
                await push(client, repository, item, "v1")
                for _ in range(3):
                    assert (await client.get_manifest(repository, "v1")).body == item.manifest
            async with RemoteClient(RemoteSettings(server.url)) as anonymous:
                with pytest.raises(RemoteDenied, match="none are configured"):
                    await anonymous.get_manifest(repository, "v1")

        run(scenario())
    finally:
        server.stop()
    assert sum(count for (_, status), count in counters.requests.items() if status == 401) == 1
    assert counters.token_fetches == 0

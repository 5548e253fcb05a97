"""Read-only mode: from the configuration, and switched at runtime for every worker at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from tests.http.ocitest import RegistryClient, assert_error
from tests.ops.conftest import Servers
from tests.support.backends import every_backend
from tests.support.server import DockyardServer
from tests.support.wait import wait_until


def admin(servers: Servers, data_dir: Path, state: str) -> str:
    return servers.dockyard("admin", "read-only", state, "--data-dir", data_dir).stdout.strip()


def refused(response: httpx.Response) -> bool:
    if response.status_code != 405:
        return False
    assert_error(response, 405, "UNSUPPORTED")
    assert response.json()["errors"][0]["message"] == "registry is in read-only mode"
    return True


def fresh_connection_post(server: DockyardServer, repo: str) -> httpx.Response:
    """A new connection per request, so that the kernel hands requests to either worker."""
    with httpx.Client(base_url=server.url) as http:
        return http.post(f"/v2/{repo}/blobs/uploads/")


@every_backend
def test_configured_read_only_refuses_writes_and_serves_pulls(servers: Servers, tmp_path: Path) -> None:
    start_server = servers.start
    data = tmp_path / "data"
    writable = start_server(data_dir=data)
    with RegistryClient(writable.url) as client:
        pushed = client.push_image("ro/config", "v1")
    writable.stop()
    server = start_server(data_dir=data, DOCKYARD_READ_ONLY="true")
    with RegistryClient(server.url) as client:
        assert client.get_manifest("ro/config", "v1").content == pushed.body
        assert refused(client.start_upload("ro/config"))
        assert refused(client.delete(f"/v2/ro/config/manifests/{pushed.digest}"))
        assert refused(client.put_manifest("ro/config", "v2", pushed.body))
    # Switching it off at runtime does not override the configuration.
    assert admin(servers, data, "off") == "read-only mode is off"
    assert refused(fresh_connection_post(server, "ro/config"))


@every_backend
def test_switched_at_runtime_across_two_workers(servers: Servers, tmp_path: Path) -> None:
    start_server = servers.start
    data = tmp_path / "data"
    server = start_server("--workers", "2", data_dir=data)
    assert len(server.pids()) >= 3  # the supervisor and two workers
    with RegistryClient(server.url) as client:
        pushed = client.push_image("ro/runtime", "v1")
    assert admin(servers, data, "on") == "read-only mode is on"
    wait_until(lambda: every_worker_answers(server, "ro/runtime", refused), 20, "both workers to refuse writes")
    for _ in range(10):  # pulls keep working
        with RegistryClient(server.url) as client:
            assert client.get_manifest("ro/runtime", "v1").content == pushed.body
    assert admin(servers, data, "status") == "read-only mode is on"
    assert admin(servers, data, "off") == "read-only mode is off"
    wait_until(lambda: every_worker_answers(server, "ro/runtime", accepted), 20, "both workers to accept writes")


def accepted(response: httpx.Response) -> bool:
    return response.status_code == 202


def every_worker_answers(server: DockyardServer, repo: str, expected: Callable[[httpx.Response], bool]) -> bool:
    """Whether 20 writes on fresh connections all answer as expected, from two workers at least
    (a generated request id starts with its worker's own prefix)."""
    responses = [fresh_connection_post(server, repo) for _ in range(20)]
    workers = {response.headers["x-request-id"].split("-")[0] for response in responses}
    return len(workers) >= 2 and all(expected(response) for response in responses)


def test_read_only_keeps_abandoned_uploads_until_it_is_switched_off(servers: Servers, tmp_path: Path) -> None:
    data = tmp_path / "data"
    writable = servers.start(data_dir=data)
    with RegistryClient(writable.url) as client:
        location = client.open_session("ro/abandoned")
    assert admin(servers, data, "on") == "read-only mode is on"
    writable.stop()
    # Stale after a second, looked for every quarter of one: read-only from its first round on.
    server = servers.start(data_dir=data, DOCKYARD_UPLOADS__STALE_AFTER_SECONDS="1", DOCKYARD_LOG_LEVEL="debug")

    def paused_rounds() -> int:
        return server.log().count("purging abandoned uploads paused: read-only mode")

    with RegistryClient(server.url) as client:

        def purged() -> bool:
            return client.upload_status(location).status_code == 404

        # Six paused rounds are 1.5 s: the session was long stale by the last of them.
        wait_until(lambda: purged() or paused_rounds() >= 6, 60, "the purge never ran while read-only")
        assert not purged(), "an abandoned upload was purged while read-only"
        assert admin(servers, data, "off") == "read-only mode is off"
        wait_until(purged, 60, "the purge never resumed")

"""The operational metrics: bytes by route, in-flight requests, event-loop lag, open upload
sessions and store latencies, summed over workers."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.http.ocitest import RegistryClient
from tests.ops.conftest import StartServer
from tests.support.metrics import metric
from tests.support.wait import wait_until


def test_operational_metrics(start_server: StartServer) -> None:
    server = start_server("--workers", "2")
    with RegistryClient(server.url) as client:
        pushed = client.push_image("metrics/a", "v1")
        manifest = client.get_manifest("metrics/a", "v1")
        assert manifest.status_code == 200
        client.open_session("metrics/a")  # left open
    url = server.url
    size = len(pushed.body)
    wait_until(lambda: metric(url, "dockyard_http_sent_bytes_total", route="manifest") >= size, 20, "bytes out")
    wait_until(lambda: metric(url, "dockyard_http_received_bytes_total", route="manifest") >= size, 20, "bytes in")
    wait_until(lambda: metric(url, "dockyard_upload_sessions_open") == 1, 20, "the open upload session")
    wait_until(lambda: metric(url, "dockyard_event_loop_lag_seconds_count") >= 2, 20, "event-loop lag samples")
    assert metric(url, "dockyard_store_operation_duration_seconds_count", operation="transaction") >= 3
    assert metric(url, "dockyard_store_operation_duration_seconds_count", operation="commit") >= 2
    assert "dockyard_http_requests_in_flight" in httpx.get(url + "/metrics").text
    assert metric(url, "dockyard_access_log_dropped_lines_total") == 0


def test_repository_usage_is_on_metrics_and_leaves_with_the_repository(start_server: StartServer) -> None:
    server = start_server(DOCKYARD_METRICS__REPOSITORY_USAGE_SECONDS="0.01")
    with RegistryClient(server.url) as client:
        shared = b"a layer both repositories link" * 100
        client.push_blob("usage/one", shared)
        client.push_blob("usage/two", shared)
        own = client.push_blob("usage/two", b"only in two")
        client.push_image("usage/one", "v1")
    url = server.url
    wait_until(lambda: metric(url, "dockyard_repository_tags", repository="usage/one") == 1, 20, "usage/one's tag")
    one_bytes = metric(url, "dockyard_repository_blob_bytes", repository="usage/one")
    assert one_bytes > len(shared)  # the shared layer plus the image's own config and layer
    assert metric(url, "dockyard_repository_blob_bytes", repository="usage/two") == len(shared) + len(b"only in two")
    assert metric(url, "dockyard_repository_shared_bytes", repository="usage/two") == len(shared)
    assert metric(url, "dockyard_repository_manifests", repository="usage/one") == 1
    with RegistryClient(server.url) as client:
        assert client.delete(client.blob_url("usage/two", own)).status_code == 202
    wait_until(
        lambda: metric(url, "dockyard_repository_blob_bytes", repository="usage/two") == len(shared),
        20,
        "usage/two still counts the unlinked blob",
    )


def test_repository_usage_can_be_left_out(start_server: StartServer) -> None:
    server = start_server(DOCKYARD_METRICS__REPOSITORY_USAGE_SECONDS="0")
    with RegistryClient(server.url) as client:
        client.push_image("usage/off", "v1")
    assert "dockyard_repository_blob_bytes" not in httpx.get(server.url + "/metrics").text


def test_the_workers_metrics_directory_leaves_with_the_server(start_server: StartServer) -> None:
    server = start_server("--workers", "2")
    assert server.proc is not None
    environment = Path(f"/proc/{server.proc.pid}/environ").read_bytes().split(b"\0")
    [directory] = [
        Path(entry.partition(b"=")[2].decode())
        for entry in environment
        if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR=")
    ]
    assert any(directory.glob("*.db"))  # the workers' series
    # Past the 30 s the server gives a worker to end before it kills it: the directory goes after that.
    assert server.stop(timeout=60) == 0
    assert not directory.exists()


def test_request_counts_and_durations_are_exact_on_the_metrics_page(start_server: StartServer) -> None:
    """Requests are tallied in memory and added to the series in bulk: a scrape of a one-worker
    server still sees every request answered before it, in the counter and the histogram alike."""
    server = start_server()
    url = server.url
    series = {
        "answered": ("dockyard_http_requests_total", {"method": "GET", "route": "base", "status": "200"}),
        "missing": ("dockyard_http_requests_total", {"method": "GET", "route": "tags", "status": "404"}),
        "timed": ("dockyard_http_request_duration_seconds_count", {"route": "base"}),
        "unbounded": ("dockyard_http_request_duration_seconds_bucket", {"route": "base", "le": "+Inf"}),
        "within_a_minute": ("dockyard_http_request_duration_seconds_bucket", {"route": "base", "le": "60.0"}),
        "seconds": ("dockyard_http_request_duration_seconds_sum", {"route": "base"}),
    }

    def scrape() -> dict[str, float]:
        return {key: metric(url, name, **labels) for key, (name, labels) in series.items()}

    before = scrape()
    with httpx.Client(base_url=url) as http:
        for _ in range(25):
            assert http.get("/v2/").status_code == 200
        assert http.get("/v2/nothing/here/tags/list").status_code == 404
    after = scrape()
    grown = {key: after[key] - before[key] for key in series}
    assert grown["answered"] == grown["timed"] == grown["unbounded"] == grown["within_a_minute"] == 25
    assert grown["missing"] == 1
    assert 0 < grown["seconds"] < 25 * 60

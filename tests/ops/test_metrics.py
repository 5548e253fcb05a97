"""The operational metrics: bytes by route, in-flight requests, event-loop lag, open upload
sessions and store latencies, summed over workers."""

from __future__ import annotations

import re

import httpx
from tests.http.ocitest import RegistryClient
from tests.ops.conftest import StartServer, wait_for


def sample(url: str, name: str, labels: str = "") -> float:
    text = httpx.get(url + "/metrics").text
    pattern = rf"^{re.escape(name)}(?:{{[^}}]*{re.escape(labels)}[^}}]*}})? ([0-9.e+-]+)$"
    return sum(float(value) for value in re.findall(pattern, text, re.MULTILINE))


def test_operational_metrics(start_server: StartServer) -> None:
    server = start_server("--workers", "2")
    with RegistryClient(server.url) as client:
        pushed = client.push_image("metrics/a", "v1")
        manifest = client.get_manifest("metrics/a", "v1")
        assert manifest.status_code == 200
        client.open_session("metrics/a")  # left open
    url = server.url
    wait_for(lambda: sample(url, "dockyard_http_sent_bytes_total", 'route="manifest"') >= len(pushed.body), "bytes out")
    wait_for(lambda: sample(url, "dockyard_http_received_bytes_total", 'route="manifest"') >= len(pushed.body), "in")
    wait_for(lambda: sample(url, "dockyard_upload_sessions_open") == 1, "the open upload session")
    wait_for(lambda: sample(url, "dockyard_event_loop_lag_seconds_count") >= 2, "event-loop lag samples")
    assert sample(url, "dockyard_store_operation_duration_seconds_count", 'operation="transaction"') >= 3
    assert sample(url, "dockyard_store_operation_duration_seconds_count", 'operation="commit"') >= 2
    assert "dockyard_http_requests_in_flight" in httpx.get(url + "/metrics").text
    assert sample(url, "dockyard_access_log_dropped_lines_total") == 0

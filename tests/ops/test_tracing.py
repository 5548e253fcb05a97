"""Tracing: one span per request, exported over OTLP/HTTP to a receiver the test runs, joined to
the client's trace by its traceparent header."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from tests.ops.conftest import StartServer
from tests.support.wait import wait_until

trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[Any] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        request = trace_service.ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["content-length"])))
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.server.spans.extend(scope_spans.spans)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def attributes(span: Any) -> dict[str, Any]:
    values = {}
    for attribute in span.attributes:
        value = attribute.value
        values[attribute.key] = value.string_value if value.HasField("string_value") else value.int_value
    return values


def test_a_span_per_request_in_the_clients_trace(start_server: StartServer, receiver: Receiver) -> None:
    server = start_server(DOCKYARD_TRACING__ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="100")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = httpx.get(
        server.url + "/v2/traced/manifests/latest",
        headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01", "X-Request-Id": "traced-1"},
    )
    assert response.status_code == 404

    def traced() -> list[Any]:
        return [span for span in receiver.spans if attributes(span).get("dockyard.request_id") == "traced-1"]

    wait_until(traced, 20, "no span of the request arrived")
    [span] = traced()
    assert span.trace_id.hex() == trace_id
    assert span.parent_span_id.hex() == "00f067aa0ba902b7"
    assert span.name == "GET manifest"
    assert attributes(span) == {
        "http.request.method": "GET",
        "url.path": "/v2/traced/manifests/latest",
        "http.route": "manifest",
        "http.response.status_code": 404,
        "dockyard.request_id": "traced-1",
    }

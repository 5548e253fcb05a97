"""OpenTelemetry spans, one per request, when the `tracing` extra is installed and `tracing.endpoint`
is set; exported over OTLP/HTTP in batches by the SDK's own thread.

granian runs the coroutines of all requests in one shared contextvars context, so no span is ever
made "current" (it would leak into the requests interleaved with it): a request's span takes its
parent from the client's `traceparent` header alone, and store calls get no spans of their own.
"""

from __future__ import annotations

import logging
from typing import Any

from dockyard.config.settings import Tracing

log = logging.getLogger("dockyard.http")


class RequestTracer:
    def __init__(self, settings: Tracing):
        # Imported here, the one import inside a function in dockyard: the extra is optional, and
        # servers without tracing never load it (at the top it would cost every process ~25 MiB).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
        from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio  # noqa: PLC0415
        from opentelemetry.trace import SpanKind, StatusCode  # noqa: PLC0415
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator  # noqa: PLC0415

        self._provider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name}),
            sampler=ParentBasedTraceIdRatio(settings.sample_ratio),
        )
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.endpoint)))
        self._tracer = self._provider.get_tracer("dockyard")
        self._propagator = TraceContextTextMapPropagator()
        self._server_kind = SpanKind.SERVER
        self._error = StatusCode.ERROR

    def start(self, method: str, path: str, headers: Any) -> Any:
        parent = None
        traceparent = headers.get("traceparent")
        if traceparent is not None:
            carrier = {"traceparent": traceparent, "tracestate": headers.get("tracestate") or ""}
            parent = self._propagator.extract(carrier)
        attributes = {"http.request.method": method, "url.path": path}
        return self._tracer.start_span(method, context=parent, kind=self._server_kind, attributes=attributes)

    def finish(self, span: Any, route: str, status: int, request_id: str) -> None:
        span.update_name(f"{span.name} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("dockyard.request_id", request_id)
        if status >= 500:
            span.set_status(self._error)
        span.end()

    def close(self) -> None:
        self._provider.shutdown()  # exports what is pending


def request_tracer(settings: Tracing) -> RequestTracer | None:
    if settings.endpoint is None:
        return None
    try:
        return RequestTracer(settings)
    except ImportError:
        log.warning("tracing.endpoint is set but OpenTelemetry is not installed: pip install 'dockyard[tracing]'")
        return None

"""A fault-injecting HTTP/1.1 reverse proxy for tests: counts what passes and breaks it on demand.

    with FaultProxy(upstream.url) as proxy:
        blob = proxy.add("GET", "/v2/*/blobs/*", too_many_requests(retry_after=2), times=1)
        ...  # point the client (or dockyard's upstream, or its S3 endpoint) at proxy.url
        assert proxy.count("GET", "/v2/*/blobs/*") == 2 and blob.hits == 1

Faults: Respond (any status, body, headers; too_many_requests() and s3_error() build the usual
ones), Reset (before the response, forwarded or not), CutBody (reset after N body bytes), Stall
(hold the response, or its body after N bytes, for a time or until `rule.release()`), PassThrough.
down()/up() make it unreachable and back; set_target() points it elsewhere.
"""

from tests.support.faultproxy.proxy import FaultProxy
from tests.support.faultproxy.rules import (
    CutBody,
    Exchange,
    Fault,
    PassThrough,
    Request,
    Reset,
    Respond,
    Rule,
    Stall,
    s3_error,
    too_many_requests,
)

__all__ = [
    "CutBody",
    "Exchange",
    "Fault",
    "FaultProxy",
    "PassThrough",
    "Request",
    "Reset",
    "Respond",
    "Rule",
    "Stall",
    "s3_error",
    "too_many_requests",
]

"""A fault-injecting HTTP/1.1 reverse proxy for tests: counts what passes and breaks it on demand.

    with FaultProxy(upstream.url) as proxy:
        blob = proxy.add("GET", "/v2/*/blobs/*", too_many_requests(retry_after=2), times=1)
        ...  # point the client (or dockyard's upstream, or its S3 endpoint) at proxy.url
        assert proxy.count("GET", "/v2/*/blobs/*") == 2 and blob.hits == 1

Faults: Respond (any status, body and headers; too_many_requests() and s3_error() build the usual
ones), Reset (before the response, the request forwarded or not), CutBody (reset after N body
bytes), Stall (hold the request, the response, or its body after N bytes, for a time or until
`rule.release()`; Stall(seconds=T) delays the first byte by T), PassThrough. A rule fires on
every matching request, or after `skip` of them on the next `times`, each with `probability`
(drawn from `seed`). down()/up() make the proxy unreachable and back; set_target() points it
elsewhere; count(), exchanges(), log and bytes_sent tell what passed, wait_for() waits for it.
The API is synchronous and thread-safe; from async code, call wait_for() in a thread.
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

"""The fault proxy against a tiny origin server: exact pass-through, streaming, every fault, counts, lifecycle."""

from __future__ import annotations

import hashlib
import os
import random
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from bench.procs import free_port, status_kib
from tests.faults.observe import received, root_cause
from tests.faults.origin import Origin, content
from tests.http.ocitest import seeded_chunks, seeded_digest
from tests.support.faultproxy import (
    CutBody,
    FaultProxy,
    PassThrough,
    Reset,
    Respond,
    Stall,
    s3_error,
    too_many_requests,
)

TIMEOUT = httpx.Timeout(10.0)
SHORT_READ = httpx.Timeout(10.0, read=0.3)  # for answers that are held indefinitely


@pytest.fixture
def origin() -> Iterator[Origin]:
    with Origin() as server:
        yield server


@pytest.fixture
def proxy(origin: Origin) -> Iterator[FaultProxy]:
    with FaultProxy(origin.url) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def http(proxy: FaultProxy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.url, timeout=TIMEOUT) as client:
        yield client


# -- pass-through -------------------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_request_goes_upstream_unchanged(origin: Origin, http: httpx.Client, framing: str) -> None:
    body = os.urandom(300_000)
    target = "/echo/bucket/key%2Fwith%20escapes?partNumber=2&uploadId=a%2Bb&x-id=UploadPart"
    headers = {"X-Amz-Date": "20260101T000000Z", "x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
    data = body if framing == "content-length" else iter([body[:1000], body[1000:]])
    response = http.put(target, content=data, headers=headers)
    echoed = response.json()
    assert response.status_code == 200
    assert (echoed["method"], echoed["target"]) == ("PUT", target)
    sent = [[name.decode(), value.decode()] for name, value in response.request.headers.raw]
    assert echoed["headers"] == sent  # names, values, order and the Host header, as the client sent them
    assert (echoed["size"], echoed["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())


@pytest.mark.parametrize("query", ["", "?chunked=1"])
def test_response_comes_back_unchanged(http: httpx.Client, query: str) -> None:
    response = http.get(f"/bytes/1500000{query}")
    assert response.status_code == 200
    assert response.content == content(1_500_000)
    assert ("transfer-encoding" in response.headers) == bool(query)
    head = http.head("/bytes/1500000")
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "1500000", b"")


def test_connections_are_kept_alive_on_both_sides(origin: Origin, http: httpx.Client) -> None:
    for _ in range(3):
        assert http.get("/bytes/10").status_code == 200
        assert http.put("/echo", content=b"x").status_code == 200
    assert len(set(origin.peers)) == 1  # one upstream connection carried all six


def test_expect_100_continue_is_relayed(http: httpx.Client) -> None:
    response = http.put("/echo", content=b"body after 100", headers={"Expect": "100-continue"})
    assert (response.status_code, response.json()["size"]) == (200, 14)


@pytest.mark.parametrize("direction", ["download", "upload"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_large_bodies_stream_in_flat_memory(http: httpx.Client, direction: str, framing: str) -> None:
    size = 200 << 20
    before = peak = status_kib(os.getpid(), "VmRSS")

    def watched(chunks: Iterator[bytes]) -> Iterator[bytes]:
        nonlocal peak
        for chunk in chunks:
            peak = max(peak, status_kib(os.getpid(), "VmRSS"))
            yield chunk

    if direction == "download":
        digest = hashlib.sha256()
        query = "?chunked=1" if framing == "chunked" else ""
        with http.stream("GET", f"/bytes/{size}{query}") as response:
            for chunk in watched(response.iter_raw()):
                digest.update(chunk)
        assert f"sha256:{digest.hexdigest()}" == seeded_digest(7, size)
    else:
        headers = {"Content-Length": str(size)} if framing == "content-length" else {}
        echoed = http.put("/echo", content=watched(seeded_chunks(7, size)), headers=headers).json()
        assert f"sha256:{echoed['sha256']}" == seeded_digest(7, size)
    assert peak - before < 48 * 1024, f"RSS grew by {(peak - before) // 1024} MiB for a {size >> 20} MiB body"


# -- faults -------------------------------------------------------------------------------------------


def test_429_with_retry_after_is_answered_by_the_proxy(origin: Origin, proxy: FaultProxy, http: httpx.Client) -> None:
    rule = proxy.add("GET", "/bytes/*", too_many_requests(retry_after=7), times=1)
    refused = http.get("/bytes/10")
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "7")
    assert refused.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert http.get("/bytes/10").content == content(10)
    assert origin.requests == [("GET", "/bytes/10")]  # the refused one never reached upstream
    assert rule.hits == 1
    assert proxy.log == [("GET", "/bytes/10", 429), ("GET", "/bytes/10", 200)]


@pytest.mark.parametrize(("status", "code"), [(503, "SlowDown"), (500, "InternalError")])
def test_s3_error_after_the_request_body_is_read(
    origin: Origin, proxy: FaultProxy, http: httpx.Client, status: int, code: str
) -> None:
    proxy.add("PUT", "/echo/*", s3_error(status, code, "injected"), times=1)
    answer = http.put("/echo/bucket/key", content=os.urandom(1 << 20))
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/xml"
    assert ET.fromstring(answer.content).findtext("Code") == code
    # The unused body was read, so the same connection carries the next request.
    assert http.put("/echo/bucket/key", content=b"again").json()["size"] == 5
    assert origin.requests == [("PUT", "/echo/bucket/key")]


def test_local_answer_to_a_client_waiting_for_100_continue_comes_at_once(proxy: FaultProxy) -> None:
    proxy.add("PUT", "*", Respond(503, b"busy"))
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):  # the proxy closes after answering: the body was never sent
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert answer.endswith(b"\r\n\r\nbusy")


def test_reset_before_responding(origin: Origin, proxy: FaultProxy, http: httpx.Client) -> None:
    proxy.add("GET", "/bytes/*", Reset(), times=1)
    with pytest.raises(httpx.ReadError):
        http.get("/bytes/10")
    assert origin.requests == []
    proxy.add("GET", "/bytes/*", Reset(forward=True), times=1)
    with pytest.raises(httpx.ReadError):
        http.get("/bytes/10")
    assert origin.requests == [("GET", "/bytes/10")]  # upstream answered; the client never heard
    assert http.get("/bytes/10").status_code == 200
    assert proxy.log == [("GET", "/bytes/10", None), ("GET", "/bytes/10", None), ("GET", "/bytes/10", 200)]


@pytest.mark.parametrize(
    ("size", "query", "cut"), [(3_000_000, "", 1_234_567), (3_000_000, "?chunked=1", 65536), (10, "", 0)]
)
def test_reset_mid_body_after_exactly_n_bytes(
    proxy: FaultProxy, http: httpx.Client, size: int, query: str, cut: int
) -> None:
    proxy.add("GET", "/bytes/*", CutBody(after_bytes=cut))
    body, error = received(http, f"/bytes/{size}{query}")
    assert isinstance(error, httpx.ReadError)
    assert body == content(size)[:cut]
    assert proxy.exchanges()[0].body_bytes == cut == proxy.bytes_sent


def test_stall_until_released(proxy: FaultProxy, http: httpx.Client) -> None:
    rule = proxy.add("GET", "/bytes/*", Stall())
    with pytest.raises(httpx.ReadTimeout):
        http.get("/bytes/10", timeout=SHORT_READ)
    answers: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(http.get("/bytes/10")))
    waiting.start()
    proxy.wait_for_count("GET", "/bytes/*", 2)
    rule.release()
    waiting.join(10)
    assert answers[0].content == content(10)
    assert http.get("/bytes/10").status_code == 200  # released for good
    assert rule.hits == 3


def test_stall_mid_body(proxy: FaultProxy, http: httpx.Client) -> None:
    rule = proxy.add("GET", "/bytes/*", Stall(after_bytes=100_000))
    body, error = received(http, "/bytes/1000000", timeout=SHORT_READ)
    assert isinstance(error, httpx.ReadTimeout)
    assert body == content(1_000_000)[:100_000]
    results: list[tuple[bytes, Exception | None]] = []
    waiting = threading.Thread(target=lambda: results.append(received(http, "/bytes/1000000")))
    waiting.start()
    proxy.wait_for(lambda: [exchange.body_bytes for exchange in proxy.exchanges()] == [100_000, 100_000])
    rule.release()
    waiting.join(10)
    assert results == [(content(1_000_000), None)]


def test_stall_holding_the_request_before_upstream(origin: Origin, proxy: FaultProxy, http: httpx.Client) -> None:
    rule = proxy.add("PUT", "/echo", Stall(hold_request=True))
    answers: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(http.put("/echo", content=b"held")))
    waiting.start()
    proxy.wait_for_count("PUT", "/echo", 1)
    assert origin.requests == []  # held before it was forwarded
    rule.release()
    waiting.join(10)
    assert answers[0].json()["size"] == 4
    assert origin.requests == [("PUT", "/echo")]


def test_delay_of_the_first_byte(proxy: FaultProxy, http: httpx.Client) -> None:
    proxy.add("GET", "/bytes/*", Stall(seconds=0.3))
    response = http.get("/bytes/1000")
    assert response.content == content(1000)
    assert response.elapsed.total_seconds() >= 0.3


# -- rules and counts -----------------------------------------------------------------------------------


def test_skip_times_and_order_of_rules(proxy: FaultProxy, http: httpx.Client) -> None:
    proxy.add("GET", "/bytes/1", PassThrough())
    proxy.add("GET", "/bytes/*", Respond(503), skip=1, times=2)
    statuses = [http.get(f"/bytes/{n}").status_code for n in (1, 2, 1, 3, 4, 5)]
    assert statuses == [200, 200, 200, 503, 503, 200]
    assert proxy.count("GET", "/bytes/*") == 6
    assert proxy.count("GET", "/bytes/1") == 2
    assert proxy.count("PUT") == 0


def test_times_is_exact_under_concurrency(proxy: FaultProxy) -> None:
    proxy.add("GET", "/bytes/*", Respond(503), times=5)

    def status(_: int) -> int:
        return httpx.get(f"{proxy.url}/bytes/1", timeout=TIMEOUT).status_code

    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(status, range(30)))
    assert (statuses.count(503), statuses.count(200)) == (5, 25)
    assert proxy.count("GET", "/bytes/1") == 30


def test_probability_is_repeatable_with_a_seed(proxy: FaultProxy, http: httpx.Client) -> None:
    rule = proxy.add("GET", "/bytes/*", Respond(500), probability=0.3, seed=11)
    statuses = [http.get("/bytes/1").status_code for _ in range(60)]
    draws = random.Random(11)
    assert statuses == [500 if draws.random() < 0.3 else 200 for _ in range(60)]
    assert rule.hits == statuses.count(500) > 0


def test_rules_removed_and_cleared_at_runtime(proxy: FaultProxy, http: httpx.Client) -> None:
    first = proxy.add("*", "*", Respond(500))
    proxy.add("GET", "/bytes/*", Respond(404))
    assert http.get("/bytes/1").status_code == 500
    proxy.remove(first)
    assert http.get("/bytes/1").status_code == 404
    proxy.clear()
    assert http.get("/bytes/1").status_code == 200


def test_counts_bytes_and_log_are_exact(proxy: FaultProxy, http: httpx.Client) -> None:
    proxy.add("GET", "/bytes/3", Respond(503, b"nope"))
    http.get("/bytes/1000")
    http.get("/bytes/3")
    http.head("/bytes/50")
    http.put("/echo/x?q=1", content=b"abc")
    assert proxy.log == [
        ("GET", "/bytes/1000", 200),
        ("GET", "/bytes/3", 503),
        ("HEAD", "/bytes/50", 200),
        ("PUT", "/echo/x", 200),
    ]
    echo = proxy.exchanges("PUT", "/echo/*", query="q=1")[0]
    assert proxy.bytes_sent == 1000 + 4 + echo.body_bytes
    proxy.forget()
    assert (proxy.log, proxy.bytes_sent) == ([], 0)


# -- availability and lifecycle ---------------------------------------------------------------------------


def test_down_refuses_then_up_serves_on_the_same_port(proxy: FaultProxy, http: httpx.Client) -> None:
    assert http.get("/bytes/1").status_code == 200  # a kept-alive connection, reset by down()
    port = proxy.port
    proxy.down()
    with pytest.raises(httpx.ConnectError) as failure:
        http.get("/bytes/1")
    assert isinstance(root_cause(failure.value), ConnectionRefusedError)
    proxy.up()
    assert proxy.port == port
    assert http.get("/bytes/1").status_code == 200


def test_down_resetting_at_accept(proxy: FaultProxy, http: httpx.Client) -> None:
    proxy.down("reset")
    with pytest.raises(httpx.TransportError) as failure:
        http.get("/bytes/1")
    assert isinstance(root_cause(failure.value), ConnectionResetError)  # connected, then reset
    proxy.up()
    assert http.get("/bytes/1").status_code == 200
    assert proxy.count() == 1


def test_target_switched_at_runtime(origin: Origin, proxy: FaultProxy, http: httpx.Client) -> None:
    assert http.get("/bytes/1").status_code == 200
    with Origin() as other:
        proxy.set_target(other.url)
        assert proxy.target == other.url
        assert http.get("/bytes/2").status_code == 200
        assert (len(origin.requests), len(other.requests)) == (1, 1)
    proxy.set_target(f"http://127.0.0.1:{free_port()}")
    unreachable = http.get("/bytes/3")  # nothing listens there
    assert (unreachable.status_code, proxy.log[-1]) == (502, ("GET", "/bytes/3", 502))


def test_stop_ends_stalled_connections_and_the_thread(origin: Origin) -> None:
    proxy = FaultProxy(origin.url).start()
    proxy.add("GET", "*", Stall())
    failures: list[Exception] = []

    def stalled_get() -> None:
        try:
            httpx.get(proxy.url + "/bytes/1", timeout=TIMEOUT)
        except httpx.TransportError as error:
            failures.append(error)

    client = threading.Thread(target=stalled_get)
    client.start()
    proxy.wait_for_count("GET", "*", 1)
    proxy.stop(timeout=5)
    client.join(10)
    assert len(failures) == 1
    assert not any(thread.name == "fault-proxy" for thread in threading.enumerate())
    with pytest.raises(httpx.ConnectError):
        httpx.get(proxy.url + "/bytes/1", timeout=TIMEOUT)

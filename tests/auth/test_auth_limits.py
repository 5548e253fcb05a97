"""Logins under attack, over HTTP: parallel guesses count before they are checked, clients behind a
trusted proxy are told apart by X-Forwarded-For, a burst of password checks is shed before it
delays pushes; and /metrics, which names every repository, is for administrators."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from tests.auth.support import AuthServer, basic, running
from tests.http.ocitest import RegistryClient, error_codes
from tests.support.wait import wait_until

LIMIT = 10
CHECK_THREADS = 1
CHECK_QUEUE = 16
METRICS_TOKEN = "metrics-token-for-the-scraper"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """Basic mode behind a "proxy" on 127.0.0.1: each test's clients are told apart by X-Forwarded-For."""
    env = {
        "DOCKYARD_HTTP__TRUSTED_PROXIES": '["127.0.0.1/32"]',
        "DOCKYARD_AUTH__PASSWORD_CHECK_THREADS": str(CHECK_THREADS),
        "DOCKYARD_AUTH__PASSWORD_CHECK_QUEUE": str(CHECK_QUEUE),
        "DOCKYARD_METRICS__TOKEN": METRICS_TOKEN,
    }
    with running(tmp_path_factory.mktemp("guarded"), False, env, failed_logins_per_minute=LIMIT) as server:
        yield server


def from_client(address: str, headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "X-Forwarded-For": f"198.51.100.250, {address}"}


def parallel(count: int, request: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    start = threading.Barrier(count)

    def one(number: int) -> httpx.Response:
        start.wait(30)
        return request(number)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_parallel_guesses_are_counted_before_they_are_checked(guarded: AuthServer) -> None:
    url = f"{guarded.url}/v2/"
    answers = parallel(40, lambda n: httpx.get(url, headers=from_client("203.0.113.4", basic("admin", f"guess-{n}"))))
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) == {401, 429}, statuses
    assert statuses.count(401) <= LIMIT, "no more guesses are checked than the limit allows"
    limited = next(answer for answer in answers if answer.status_code == 429)
    assert error_codes(limited) == ["TOOMANYREQUESTS"]
    assert int(limited.headers["retry-after"]) >= 1


def test_clients_behind_a_trusted_proxy_are_limited_one_by_one(guarded: AuthServer) -> None:
    url = f"{guarded.url}/v2/"
    for _ in range(LIMIT):
        assert httpx.get(url, headers=from_client("203.0.113.5", basic("admin", "guess"))).status_code == 401
    assert httpx.get(url, headers=from_client("203.0.113.5", basic("admin", "guess"))).status_code == 429
    # Another user behind the same proxy still logs in; so does the next host of an IPv6 /64 only after its
    # neighbour's failures run out (they are one client).
    assert httpx.get(url, headers=from_client("203.0.113.6", basic("admin"))).status_code == 200
    for _ in range(LIMIT):
        httpx.get(url, headers=from_client("2001:db8:5:6::1", basic("admin", "guess")))
    assert httpx.get(url, headers=from_client("2001:db8:5:6::2", basic("admin"))).status_code == 429
    assert httpx.get(url, headers=from_client("2001:db8:5:7::2", basic("admin"))).status_code == 200


def test_a_burst_of_password_checks_is_shed_before_it_delays_a_push(guarded: AuthServer) -> None:
    url = f"{guarded.url}/v2/"
    admin = from_client("203.0.113.7", basic("admin"))
    assert httpx.get(url, headers=admin).status_code == 200  # logged in: the result is cached
    # Unknown users are checked against a bcrypt hash of the default cost: each check takes a while.
    answers: list[httpx.Response] = []
    burst = 60

    def guess(number: int) -> None:
        headers = from_client(f"2001:db8:{number:x}::1", basic(f"ghost-{number}", f"guess-{number}"))
        answers.append(httpx.get(url, headers=headers, timeout=120))

    pool = ThreadPoolExecutor(burst)
    try:
        for number in range(burst):
            pool.submit(guess, number)
        # Once a check has been refused, every thread and waiting place is taken.
        wait_until(lambda: any(a.status_code == 429 for a in answers), 60, "no password check was ever refused")
        checked_before = sum(1 for a in answers if a.status_code == 401)
        with RegistryClient(guarded.url) as client:
            client.http.headers.update(admin)
            client.push_blob("team/burst", os.urandom(100 * 1024))
        checked_when_pushed = sum(1 for a in answers if a.status_code == 401)
    finally:
        pool.shutdown(wait=True)
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {401, 429}, statuses
    refused = next(a for a in answers if a.status_code == 429)
    assert error_codes(refused) == ["TOOMANYREQUESTS"]
    assert refused.headers["retry-after"] == "1"
    # The push finished while admitted checks were still waiting for the bcrypt thread.
    assert checked_when_pushed < statuses.count(401), (checked_before, checked_when_pushed, statuses.count(401))


def test_metrics_need_the_metrics_token_or_an_administrator(guarded: AuthServer) -> None:
    url = f"{guarded.url}/metrics"
    with RegistryClient(guarded.url) as client:
        client.http.headers.update(from_client("203.0.113.8", basic("admin")))
        client.push_blob("team/counted", b"counted")
    anonymous = httpx.get(url)
    assert anonymous.status_code == 401
    assert error_codes(anonymous) == ["UNAUTHORIZED"]
    assert anonymous.headers["www-authenticate"].startswith("Basic ")
    assert "team/counted" not in anonymous.text
    assert httpx.get(url, headers={"Authorization": "Bearer not-the-token"}).status_code == 401
    reader = httpx.get(url, headers=from_client("203.0.113.8", basic("reader")))
    assert reader.status_code == 403
    assert error_codes(reader) == ["DENIED"]
    for headers in ({"Authorization": f"Bearer {METRICS_TOKEN}"}, from_client("203.0.113.8", basic("admin"))):
        answer = httpx.get(url, headers=headers)
        assert answer.status_code == 200
        assert 'repository="team/counted"' in answer.text

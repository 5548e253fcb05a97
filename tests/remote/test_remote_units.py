"""The client's pure parts through their interfaces: header parsing, the realm check, token answers,
settings, and the health state machine on a clock the test moves."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from dockyard.remote import RemoteCounters, RemoteSettings, RemoteUnavailable, Secret
from dockyard.remote.headers import (
    Challenge,
    parse_challenges,
    parse_content_range,
    parse_error_body,
    parse_retry_after,
    upload_offset,
)
from dockyard.remote.health import Health
from dockyard.remote.tokens import parse_token_answer, realm_trusted, refresh_margin


def test_challenges() -> None:
    hub = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"'
    assert parse_challenges([hub]) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:a/b:pull,push",
            },
        )
    ]
    several = 'Negotiate abc==, Basic realm="x y", charset="UTF-8", BEARER realm = "r" , error="insufficient_scope"'
    assert parse_challenges([several]) == [
        Challenge("negotiate", {}),
        Challenge("basic", {"realm": "x y", "charset": "UTF-8"}),
        Challenge("bearer", {"realm": "r", "error": "insufficient_scope"}),
    ]
    assert parse_challenges(['Basic realm="quoted \\"name\\""', "Bearer realm=plain"]) == [
        Challenge("basic", {"realm": 'quoted "name"'}),
        Challenge("bearer", {"realm": "plain"}),
    ]
    assert parse_challenges(["", ", ,", "=="]) == []


def test_retry_after() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now) == 0.0
    for junk in (None, "", "soon", "-5", "1.5", "Wed, 99 Foo 2026 00:00:00 GMT"):
        assert parse_retry_after(junk, now) is None


def test_ranges() -> None:
    assert parse_content_range("bytes 10-19/100") == (10, 19, 100)
    assert parse_content_range("bytes 10-19/*") == (10, 19, None)
    for junk in (None, "bytes 19-10/100", "bytes 10-100/100", "10-19/100", "bytes=10-19"):
        assert parse_content_range(junk) is None
    assert upload_offset("0-1048575") == 1048576
    assert upload_offset("0-0") == 0  # empty, or one byte: read as empty
    assert upload_offset("0--1") == 0
    assert upload_offset("bytes=0-99") == 100
    assert upload_offset("5-10") is None
    assert upload_offset(None) is None


def test_error_bodies() -> None:
    body = b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown","detail":{}},{"code":"DENIED"}]}'
    parsed = parse_error_body(body)
    assert parsed.codes == ("BLOB_UNKNOWN", "DENIED")
    assert parsed.describe() == "BLOB_UNKNOWN: blob unknown; DENIED"
    for junk in (b"", b"<html>", b"[]", b'{"errors": "x"}', b'{"errors": [1, {"code": 2}]}'):
        assert parse_error_body(junk).codes == ()


@pytest.mark.parametrize(
    ("realm", "remote", "trusted", "expected"),
    [
        ("https://registry.example/token", "https://registry.example", (), True),
        ("https://REGISTRY.example:8443/token", "https://registry.example", (), True),  # same host
        ("http://registry.example/token", "https://registry.example", (), False),  # no downgrade
        ("https://registry.example/token", "http://registry.example:5000", (), True),
        ("https://auth.docker.io/token", "https://registry-1.docker.io", (), False),
        ("https://auth.docker.io/token", "https://registry-1.docker.io", ("auth.docker.io",), True),
        ("https://auth.docker.io:444/token", "https://registry-1.docker.io", ("auth.docker.io:443",), False),
        ("https://auth.docker.io/token", "https://registry-1.docker.io", ("AUTH.docker.io:443",), True),
        ("https://user:pw@registry.example/token", "https://registry.example", (), False),
        ("ftp://registry.example/token", "https://registry.example", (), False),
        ("/token", "https://registry.example", (), False),
        ("https://[::1]:5001/token", "https://[::1]:5000", (), True),
        ("https://[::2]:5001/token", "https://[::1]:5000", ("[::2]:5001",), True),
    ],
)
def test_realm_trust(realm: str, remote: str, trusted: tuple[str, ...], expected: bool) -> None:
    assert realm_trusted(realm, remote, trusted) is expected


def test_token_answers() -> None:
    now = 1_800_000_000.0
    assert parse_token_answer(b'{"token": "t1", "expires_in": 300}', now) == ("t1", 300.0)
    assert parse_token_answer(b'{"access_token": "t2"}', now) == ("t2", 60.0)  # the spec's default
    assert parse_token_answer(b'{"token": "t3", "expires_in": 0}', now) == ("t3", 60.0)
    issued = '"2027-01-15T08:00:00Z"'  # 1_800_000_000 is 2027-01-15T08:00:00Z
    assert parse_token_answer(f'{{"token": "t", "expires_in": 300, "issued_at": {issued}}}'.encode(), now + 100) == (
        "t",
        200.0,
    )
    # A remote clock far off (issued in the future, or before the token's whole life) is ignored.
    for moment in ('"2027-01-15T09:00:00Z"', '"2027-01-15T07:00:00Z"', '"garbage"', "12345"):
        answer = f'{{"token": "t", "expires_in": 300, "issued_at": {moment}}}'.encode()
        assert parse_token_answer(answer, now) == ("t", 300.0)
    for junk in (b"", b"[]", b'{"token": ""}', b'{"token": 5}', b"{"):
        with pytest.raises(ValueError):  # noqa: PT011 - the message is what the client reports
            parse_token_answer(junk, now)
    assert refresh_margin(60) == 6
    assert refresh_margin(3600) == 30


def test_settings_validate_and_hide_the_password() -> None:
    settings = RemoteSettings("https://registry.example/", username="u", password=Secret("p4ssw0rd"))
    assert settings.base_url == "https://registry.example"
    assert settings.credentials == ("u", "p4ssw0rd")
    assert "p4ssw0rd" not in f"{settings!r} {settings} {settings.password} {settings.password!r}"
    assert (settings.connect_timeout, settings.read_timeout) == (5.0, 30.0)
    for url in ("registry.example", "ftp://x", "https://u:p@x", "https://x/v2/", "https://x?q=1", "https://x:"):
        with pytest.raises(ValueError, match="remote url"):
            RemoteSettings(url)
    with pytest.raises(ValueError, match="go together"):
        RemoteSettings("https://x", username="u")
    with pytest.raises(ValueError, match="positive"):
        RemoteSettings("https://x", read_timeout=0)
    with pytest.raises(ValueError, match="at least 1"):
        RemoteSettings("https://x", max_connections=0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_health_breaker_and_retry_after() -> None:
    clock = Clock()
    counters = RemoteCounters()
    health = Health("https://r", failures_to_open=3, cooldown=10, observer=counters, clock=clock)
    for _ in range(2):
        health.attempt().failed()
    health.attempt().succeeded()  # a success resets the count
    for _ in range(3):
        health.attempt().failed()
    with pytest.raises(RemoteUnavailable) as fast:
        health.attempt()
    assert (fast.value.dialled, fast.value.retry_after) == (False, 10)
    clock.now += 10
    probe = health.attempt()
    with pytest.raises(RemoteUnavailable):
        health.attempt()  # one probe at a time
    probe.failed()
    with pytest.raises(RemoteUnavailable):
        health.attempt()  # reopened for another cooldown
    clock.now += 10
    with health.attempt():
        pass  # a probe that ends without an outcome (cancelled) frees the slot
    health.attempt().succeeded()
    health.attempt().succeeded()  # closed again
    assert counters.breaker_openings == 1
    health.attempt().failed(retry_after=5)
    with pytest.raises(RemoteUnavailable) as later:
        health.attempt()
    assert later.value.retry_after == 5
    clock.now += 5
    health.attempt().succeeded()
    assert counters.short_circuits == {"breaker-open": 3, "retry-after": 1}

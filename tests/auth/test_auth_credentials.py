"""Credentials through their interfaces: htpasswd parsing and edits, password checks, login limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.auth.support import TEST_COST

from dockyard.auth.credentials import FailedLogins, UserFile
from dockyard.auth.htpasswd import HtpasswdError, load, parse, remove_user, set_user
from dockyard.auth.password_checks import PasswordChecks, PasswordChecksBusy
from dockyard.auth.sources import HtpasswdSource, Identity, Sources
from dockyard.auth.verifier import Verifier


def verifier_of(path: Path) -> Verifier:
    checks = PasswordChecks(threads=2, queue=64)
    return Verifier(Sources([HtpasswdSource(UserFile(path), checks, cache_seconds=60)]))


def test_parse_keeps_bcrypt_and_skips_comments() -> None:
    users = parse("# team\n\nalice:$2y$05$abcdefghijklmnopqrstuu5Lw1SsJ0Ff0bHk0Y4U9D6sPlAZw1BmW\n")
    assert list(users) == ["alice"]


@pytest.mark.parametrize("text", ["alice", "alice:", ":$2b$05$x", "alice:$apr1$x$y"])
def test_parse_refuses_what_it_cannot_use(text: str) -> None:
    with pytest.raises(HtpasswdError, match="htpasswd:1"):
        parse(text)


def test_edits_are_atomic_and_private(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    assert set_user(path, "alice", "one", cost=TEST_COST)
    assert not set_user(path, "alice", "two", cost=TEST_COST), "a second add changes the password"
    assert set_user(path, "bob", "three", cost=TEST_COST)
    assert sorted(load(path)) == ["alice", "bob"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert remove_user(path, "alice")
    assert not remove_user(path, "alice")
    assert list(load(path)) == ["bob"]
    assert [entry.name for entry in tmp_path.iterdir() if entry.name.startswith(".")] == [], "no temporary left"


def test_verifier_checks_caches_and_shares_concurrent_checks(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    set_user(path, "alice", "right", cost=TEST_COST)
    verifier = verifier_of(path)

    async def check(password: str) -> list[Identity | None]:
        key = verifier.key(f"alice\0{password}")
        return await asyncio.gather(*(verifier.verify(key, "alice", password) for _ in range(20)))

    assert asyncio.run(check("right")) == [Identity("alice")] * 20
    assert asyncio.run(check("wrong")) == [None] * 20
    assert verifier.cached(verifier.key("alice\0right")) == (Identity("alice"), True)
    assert verifier.cached(verifier.key("alice\0wrong")) == (None, True)
    assert verifier.cached(verifier.key("alice\0never tried")) is None


def test_unknown_users_fail_like_wrong_passwords(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    set_user(path, "alice", "right", cost=TEST_COST)
    verifier = verifier_of(path)
    assert asyncio.run(verifier.verify(verifier.key("x"), "mallory", "right")) is None


def test_failed_logins_limit_per_address() -> None:
    limits = FailedLogins(limit=2)
    for _ in range(2):
        assert limits.retry_after("10.0.0.1") == 0
        limits.record_failure("10.0.0.1")
    assert 1 <= limits.retry_after("10.0.0.1") <= 60
    assert limits.retry_after("10.0.0.2") == 0, "another address is not affected"


def test_failed_logins_count_ipv6_per_64() -> None:
    limits = FailedLogins(limit=2)
    limits.record_failure("2001:db8:1:2::1")
    limits.record_failure("2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert limits.retry_after("2001:db8:1:2:abcd::9") > 0, "the same /64 is one client"
    assert limits.retry_after("2001:db8:1:3::1") == 0, "the next /64 is another"
    limits.record_failure("::ffff:192.0.2.1")
    limits.record_failure("192.0.2.1")
    assert limits.retry_after("192.0.2.1") > 0, "an IPv4-mapped address is its IPv4 address"


def test_a_full_table_forgets_the_oldest_clients_not_every_lockout() -> None:
    limits = FailedLogins(limit=2, capacity=4)
    for _ in range(2):
        limits.record_failure("198.51.100.1")
    for number in range(3):
        limits.record_failure(f"203.0.113.{number}")
    assert len([n for n in range(3) if limits.retry_after(f"203.0.113.{n}") == 0]) == 3
    limits.record_failure("198.51.100.1")  # still failing: the most recent, kept
    for number in range(3, 6):
        limits.record_failure(f"203.0.113.{number}")  # fills the table: the oldest entries go
    assert limits.retry_after("198.51.100.1") > 0, "a lockout survives other clients filling the table"


def test_a_check_counts_before_it_ends() -> None:
    limits = FailedLogins(limit=3)
    assert [limits.attempt("10.0.0.1") for _ in range(5)][:3] == [0, 0, 0]
    assert limits.attempt("10.0.0.1") > 0, "parallel checks: the fourth waits although none has failed yet"
    limits.withdraw("10.0.0.1")  # one of them succeeded
    assert limits.attempt("10.0.0.1") == 0


def test_password_checks_beyond_the_pool_are_refused_at_once() -> None:
    async def burst() -> list[bool | str]:
        checks = PasswordChecks(threads=1, queue=2)
        outcomes = await asyncio.gather(*(checks.matches("guess", None) for _ in range(10)), return_exceptions=True)
        return [o if isinstance(o, bool) else type(o).__name__ for o in outcomes]

    outcomes = asyncio.run(burst())
    assert outcomes.count(False) == 3, "one running, two waiting"
    assert outcomes.count(PasswordChecksBusy.__name__) == 7

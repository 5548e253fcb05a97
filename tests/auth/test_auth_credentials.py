"""Credentials through their interfaces: htpasswd parsing and edits, password checks, login limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.auth.support import TEST_COST

from dockyard.auth.credentials import FailedLogins, UserFile, Verifier
from dockyard.auth.htpasswd import HtpasswdError, load, parse, remove_user, set_user


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
    verifier = Verifier(UserFile(path), cache_seconds=60)

    async def check(password: str) -> list[str]:
        key = verifier.key(f"alice\0{password}")
        return await asyncio.gather(*(verifier.verify(key, "alice", password) for _ in range(20)))

    assert asyncio.run(check("right")) == ["alice"] * 20
    assert asyncio.run(check("wrong")) == [""] * 20
    assert verifier.cached(verifier.key("alice\0right")) == ("alice", True)
    assert verifier.cached(verifier.key("alice\0wrong")) == ("", True)
    assert verifier.cached(verifier.key("alice\0never tried")) == (None, False)


def test_unknown_users_fail_like_wrong_passwords(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    set_user(path, "alice", "right", cost=TEST_COST)
    verifier = Verifier(UserFile(path), cache_seconds=60)
    assert asyncio.run(verifier.verify(verifier.key("x"), "mallory", "right")) == ""


def test_failed_logins_limit_per_address() -> None:
    limits = FailedLogins(limit=2)
    for _ in range(2):
        assert limits.retry_after("10.0.0.1") == 0
        limits.record_failure("10.0.0.1")
    assert 1 <= limits.retry_after("10.0.0.1") <= 60
    assert limits.retry_after("10.0.0.2") == 0, "another address is not affected"

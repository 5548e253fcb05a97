"""The LDAP source through its interface: ldaps:// and StartTLS with the directory's CA, a certificate
that does not verify counted as a directory that is down (never a fall back to plain text), and a
name the user filter finds twice."""

from __future__ import annotations

import asyncio

import pytest
from tests.identity.directory import USERS, Directory

from dockyard.auth.ldap import LdapDirectory
from dockyard.auth.password_checks import PasswordChecks
from dockyard.auth.sources import Identity, SourceUnavailable, Verdict
from dockyard.config.identity import Ldap

ALICE = Identity("alice", frozenset({"developers", "maintainers"}))


def verify(settings: dict[str, object], user: str, password: str) -> Identity | Verdict:
    source = LdapDirectory(Ldap.model_validate(settings), PasswordChecks(threads=1, queue=4))
    return asyncio.run(source.verify(user, password))


@pytest.mark.parametrize("tls", ["ldaps", "start_tls"])
def test_tls_with_the_directorys_ca(directory: Directory, tls: str) -> None:
    url = {"ldaps": directory.tls_url, "start_tls": directory.url}[tls]
    settings = directory.settings(url=url, start_tls=tls == "start_tls", ca_file=str(directory.ca_file))
    assert verify(settings, "alice", USERS["alice"].password) == ALICE
    assert verify(settings, "alice", "wrong") is Verdict.REFUSED


@pytest.mark.parametrize("tls", ["ldaps", "start_tls"])
def test_a_certificate_that_does_not_verify_is_a_directory_down(directory: Directory, tls: str) -> None:
    url = {"ldaps": directory.tls_url, "start_tls": directory.url}[tls]
    settings = directory.settings(url=url, start_tls=tls == "start_tls")  # the system's CAs only
    with pytest.raises(SourceUnavailable):
        verify(settings, "alice", USERS["alice"].password)


def test_a_name_the_filter_finds_twice_is_refused_not_passed_on(directory: Directory) -> None:
    ambiguous = directory.settings(user_filter="(|(uid={username})(uid=bob))")
    assert verify(ambiguous, "alice", USERS["alice"].password) is Verdict.REFUSED
    assert verify(directory.settings(), "alice", USERS["alice"].password) == ALICE

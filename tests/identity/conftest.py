"""One slapd for the identity tests, and a token-mode dockyard whose users come from an htpasswd file
(asked first) and from that directory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.auth.support import TEST_COST, AuthServer, running, write_users
from tests.identity.directory import Directory

from dockyard.auth.htpasswd import set_user

SHADOW_FILE_PASSWORD = "shadow-file-7"
RULES: list[dict[str, Any]] = [
    {"repositories": ["**"], "users": ["admin"], "actions": ["pull", "push", "delete", "overwrite"]},
    {"repositories": ["team/**"], "groups": ["developers"], "actions": ["pull", "push"]},
    {"repositories": ["team/**"], "groups": ["readers"], "actions": ["pull"]},
    {"repositories": ["team/**"], "groups": ["maintainers"], "actions": ["overwrite"]},
    {"repositories": ["star/**"], "groups": ["stars"], "actions": ["pull", "push"]},
]


@pytest.fixture(scope="session")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    slapd = Directory(tmp_path_factory.mktemp("slapd")).start()
    try:
        yield slapd
    finally:
        slapd.stop()


@pytest.fixture(scope="session")
def ldap_server(tmp_path_factory: pytest.TempPathFactory, directory: Directory) -> Iterator[AuthServer]:
    home = tmp_path_factory.mktemp("ldap-auth")
    htpasswd = write_users(home / "htpasswd", ["admin"])
    set_user(htpasswd, "shadow", SHADOW_FILE_PASSWORD, cost=TEST_COST)
    with running(home, token_mode=True, rules=RULES, groups={}, ldap=directory.settings()) as server:
        yield server

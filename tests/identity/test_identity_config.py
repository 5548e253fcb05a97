"""`dockyard config check` on the `auth.ldap` and `auth.oidc` sections: what it refuses, by key and
without ever showing a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.config.check import check
from dockyard.config.settings import CONFIG_FILE_ENV

SECRET = "do-not-show-this-9"
LDAP = "auth:\n  ldap:\n    url: ldap://127.0.0.1:3389\n    user_base: ou=people,dc=example,dc=org\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            LDAP + "    user_filter: (uid=*)\n",
            "auth.ldap.user_filter: Value error, user_filter must contain {username}",
        ),
        (LDAP + "    group_filter: (member=x)\n", "auth.ldap.group_filter: Value error, group_filter must contain"),
        (LDAP + f"    bind_password: {SECRET}\n", "auth.ldap: Value error, bind_dn and bind_password go together"),
        (LDAP + "    ca_file: /nonexistent/ca.pem\n", "auth.ldap.ca_file: /nonexistent/ca.pem does not exist"),
        (LDAP.replace("ldap://", "http://"), "auth.ldap.url: String should match pattern"),
        (LDAP.replace("ldap://", "ldaps://") + "    start_tls: true\n", "start_tls is for ldap:// URLs"),
        (
            f"auth:\n  oidc:\n    issuer: login.example.org\n    client_id: d\n    client_secret: {SECRET}\n",
            "auth.oidc.issuer",
        ),
        (
            "listen: 0.0.0.0:5000\nauth:\n  oidc:\n    issuer: https://login.example.org\n    client_id: dockyard\n",
            "auth.external_url: single sign-on on 0.0.0.0:5000",
        ),
    ],
)
def test_identity_settings_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    reported = "\n".join(str(problem) for problem in problems_of(tmp_path, monkeypatch, text))
    assert expected in reported
    assert SECRET not in reported


def test_a_complete_identity_configuration_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ldap = LDAP + "    bind_dn: cn=dockyard,dc=example,dc=org\n    bind_password: x\n    group_base: ou=groups\n"
    oidc = "  oidc:\n    issuer: https://login.example.org\n    client_id: dockyard\n    client_secret: y\n"
    assert problems_of(tmp_path, monkeypatch, f"{ldap}{oidc}  htpasswd: null\n") == []


def problems_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> list[object]:
    """What `dockyard config check FILE` reports (in this process: it names the file in the environment,
    which the test restores)."""
    config = tmp_path / "dockyard.yaml"
    config.write_text(f"data_dir: {tmp_path}/data\n{text}")
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    return list(check(config)[1])

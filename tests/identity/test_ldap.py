"""Users from a real LDAP directory (slapd): logins at the token endpoint, the registry API and the UI,
their directory groups in the policy, disabled users, injection attempts, the order of sources, and a
directory that is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from tests.auth.support import PASSWORDS, AuthServer, TokenFlow, basic, claims_of, write_users
from tests.http.ocitest import RegistryClient, assert_error
from tests.identity.conftest import RULES, SHADOW_FILE_PASSWORD
from tests.identity.directory import SERVICE_PASSWORD, USERS, Directory
from tests.interop.auth import refused
from tests.interop.clients import ContainersConfig, Skopeo
from tests.interop.harness import small_layout
from tests.support.server import DockyardServer


def token_access(server: AuthServer, user: str, password: str, scope: str) -> list[str] | int:
    """The actions a token for `scope` grants the user, or the status of a refused login."""
    params = {"service": "dockyard", "scope": scope}
    response = httpx.get(f"{server.url}/auth/token", params=params, headers=basic(user, password))
    if response.status_code != 200:
        return response.status_code
    access = claims_of(response.json()["token"])["access"]
    return sorted(action for entry in access for action in entry["actions"])


def client_of(server: AuthServer, user: str, password: str) -> RegistryClient:
    client = RegistryClient(server.url)
    client.http.auth = TokenFlow(server.url, user, password)
    return client


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("alice", ["pull", "push"]),  # group developers
        ("bob", ["pull"]),  # group readers
        ("carol", []),  # in no group: logs in, may do nothing here
        ("dave", 401),  # disabled in the directory
    ],
)
def test_directory_groups_decide_what_a_token_grants(ldap_server: AuthServer, user: str, expected: object) -> None:
    assert token_access(ldap_server, user, USERS[user].password, "repository:team/app:pull,push") == expected


@pytest.mark.parametrize("password", ["wrong", ""])
def test_a_wrong_or_empty_password_is_refused(ldap_server: AuthServer, password: str) -> None:
    # An empty password would be an anonymous bind, which LDAP lets succeed.
    assert token_access(ldap_server, "alice", password, "repository:team/app:pull") == 401


@pytest.mark.parametrize("name", ["*", "alice)(uid=*", "*)(|(uid=*", "al*", "alice)(|(description=*)", "\\2a"])
def test_filter_metacharacters_in_a_name_never_find_another_user(ldap_server: AuthServer, name: str) -> None:
    for password in (USERS["alice"].password, "anything"):
        assert token_access(ldap_server, name, password, "repository:team/app:pull") == 401


def test_a_name_with_metacharacters_logs_in_with_its_groups(ldap_server: AuthServer) -> None:
    star = USERS["star(*)\\x"]
    assert token_access(ldap_server, star.uid, star.password, "repository:star/x:pull,push") == ["pull", "push"]
    assert token_access(ldap_server, star.uid, star.password, "repository:team/app:pull") == []


def test_the_first_source_that_knows_a_name_decides_its_password(ldap_server: AuthServer) -> None:
    # `shadow` is in the htpasswd file (configured first) and in the directory.
    assert token_access(ldap_server, "shadow", USERS["shadow"].password, "repository:team/app:pull") == 401
    assert token_access(ldap_server, "shadow", SHADOW_FILE_PASSWORD, "repository:team/app:push") == []
    assert token_access(ldap_server, "admin", PASSWORDS["admin"], "repository:team/app:push") == ["push"]


def test_ldap_users_push_and_pull_by_their_groups(ldap_server: AuthServer) -> None:
    with client_of(ldap_server, "alice", USERS["alice"].password) as alice:
        alice.push_image("team/ldap", "v1", seed="first")
        # Moving a tag is `overwrite`, which the policy decides by the user behind the token: the
        # directory group maintainers grants it.
        pushed = alice.push_image("team/ldap", "v1")
    with client_of(ldap_server, "bob", USERS["bob"].password) as bob:
        assert bob.get(f"/v2/team/ldap/manifests/{pushed.digest}").status_code == 200
        refused = bob.request("POST", "/v2/team/ldap/blobs/uploads/")
        assert refused.status_code == 401
        assert "insufficient_scope" in refused.headers["www-authenticate"]
    log = ldap_server.server.log()
    assert all(secret not in log for secret in (SERVICE_PASSWORD, USERS["alice"].password, USERS["bob"].password))


def test_ldap_users_log_in_to_the_ui_with_their_groups(ldap_server: AuthServer) -> None:
    with httpx.Client(base_url=ldap_server.url) as browser:
        browser.headers["x-dockyard-csrf"] = browser.get("/v2/_dockyard/session").json()["csrf"]
        answer = browser.post("/v2/_dockyard/session", headers=basic("bob", USERS["bob"].password))
        assert answer.status_code == 200, answer.text
        assert browser.get("/v2/_dockyard/session").json()["user"] == "bob"
        rights = browser.get("/v2/_dockyard/repositories/team/app/-/rights").json()
        assert rights["pull"]
        assert not rights["push"]


def test_a_refresh_token_keeps_the_users_directory_groups(ldap_server: AuthServer) -> None:
    form = {"grant_type": "password", "service": "dockyard", "access_type": "offline"}
    form |= {"username": "alice", "password": USERS["alice"].password, "scope": "repository:team/app:pull"}
    refresh = httpx.post(f"{ldap_server.url}/auth/token", data=form).json()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "service": "dockyard"}
    answer = httpx.post(f"{ldap_server.url}/auth/token", data=form | {"scope": "repository:team/app:push"})
    assert answer.status_code == 200, answer.text
    assert claims_of(answer.json()["access_token"])["access"][0]["actions"] == ["push"]


@pytest.fixture(scope="module")
def down_server(tmp_path_factory: pytest.TempPathFactory, directory: Directory) -> Iterator[DockyardServer]:
    """Basic mode with the directory asked before the htpasswd file, and a directory nobody listens at."""
    home = tmp_path_factory.mktemp("ldap-down")
    htpasswd = write_users(home / "htpasswd", ["admin"])
    unreachable = directory.settings(url="ldap://127.0.0.1:9", timeout_seconds=2)
    auth = {"ldap": unreachable, "htpasswd": str(htpasswd), "rules": RULES, "anonymous": ["public/**"]}
    config = home / "config.yaml"
    config.write_text(yaml.safe_dump({"auth": auth}, sort_keys=False))
    server = DockyardServer(home / "data", ["--config", str(config)]).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_directory_that_is_down_fails_logins_with_503_and_a_log_line(down_server: DockyardServer) -> None:
    for user, password in (("alice", USERS["alice"].password), ("admin", PASSWORDS["admin"])):
        response = httpx.get(f"{down_server.url}/v2/", headers=basic(user, password))
        assert_error(response, 503, "UNAVAILABLE")
        assert "directory is unavailable" in response.json()["errors"][0]["message"]
    assert "LDAP directory ldap://127.0.0.1:9 unavailable" in down_server.log()
    assert USERS["alice"].password not in down_server.log()
    assert SERVICE_PASSWORD not in down_server.log()


def test_requests_that_need_no_login_are_unaffected_by_a_directory_down(down_server: DockyardServer) -> None:
    assert_error(httpx.get(f"{down_server.url}/v2/public/x/tags/list"), 404, "NAME_UNKNOWN")
    assert httpx.get(f"{down_server.url}/v2/").status_code == 401


def test_a_directory_back_up_lets_logins_through_again(tmp_path: Path, directory: Directory) -> None:
    """The same directory stopped and started: 503 while it is down, never a grant, and not counted
    as a failed login; logins after, and wrong passwords limited like any others."""
    config = tmp_path / "config.yaml"
    settings = directory.settings(cache_seconds=0)
    auth = {"ldap": settings, "rules": RULES, "failed_logins_per_minute": 3}
    config.write_text(yaml.safe_dump({"auth": auth}, sort_keys=False))
    server = DockyardServer(tmp_path / "data", ["--config", str(config)]).start()
    alice = basic("alice", USERS["alice"].password)
    try:
        assert httpx.get(f"{server.url}/v2/", headers=alice).status_code == 200
        directory.stop()
        try:
            for _ in range(3):
                assert_error(httpx.get(f"{server.url}/v2/", headers=alice), 503, "UNAVAILABLE")
        finally:
            directory.start()
        assert httpx.get(f"{server.url}/v2/", headers=alice).status_code == 200
        wrong = basic("bob", "wrong")
        assert [httpx.get(f"{server.url}/v2/", headers=wrong).status_code for _ in range(3)] == [401] * 3
        limited = httpx.get(f"{server.url}/v2/", headers=basic("bob", USERS["bob"].password))
        assert_error(limited, 429, "TOOMANYREQUESTS")
    finally:
        server.stop()


@pytest.mark.interop
def test_skopeo_logs_in_pushes_and_pulls_as_ldap_users(ldap_server: AuthServer, tmp_path: Path) -> None:
    """What `docker login` does, with containers/image: login at the token endpoint, push, pull."""
    host = ldap_server.url.removeprefix("http://")
    layout, digest = small_layout(tmp_path / "layout", "an LDAP user")
    skopeo = Skopeo(ContainersConfig(tmp_path / "containers", host))
    wrong = skopeo("login", "--tls-verify=false", "-u", "alice", "-p", "wrong", host, check=False)
    assert wrong.returncode != 0
    assert "invalid username/password" in wrong.stderr, wrong.describe()
    skopeo("login", "--tls-verify=false", "-u", "alice", "-p", USERS["alice"].password, host)
    dest = f"docker://{host}/team/skopeo:v1"
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:v1", dest)  # as the login
    skopeo("logout", host)
    bob = f"bob:{USERS['bob'].password}"
    skopeo("copy", "--src-tls-verify=false", "--src-creds", bob, dest, f"oci:{tmp_path / 'pulled'}:v1")
    assert (tmp_path / "pulled" / "blobs" / "sha256" / digest.removeprefix("sha256:")).exists()
    no_tls = "--dest-tls-verify=false"
    refused(skopeo("copy", no_tls, "--dest-creds", bob, f"oci:{layout.path}:v1", dest, check=False))

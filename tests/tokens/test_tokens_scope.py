"""What an access token reaches, in Basic mode: its globs and actions, never more than its owner may
(rules in tests/auth/support.py: writer pulls and pushes under team/, may not delete); a robot has
exactly its own grants."""

from __future__ import annotations

import httpx
from tests.auth.support import PASSWORDS
from tests.http.ocitest import RegistryClient, assert_error
from tests.tokens.support import TokenServers, basic_secret


def client(servers: TokenServers, secret: str) -> RegistryClient:
    registry = RegistryClient(servers.url)
    registry.http.headers.update(basic_secret(secret))
    return registry


def admin(servers: TokenServers) -> RegistryClient:
    registry = RegistryClient(servers.url)
    registry.http.auth = httpx.BasicAuth("admin", PASSWORDS["admin"])
    return registry


def test_a_personal_token_works_within_its_globs_and_its_owners_rights(basic_tokens: TokenServers) -> None:
    secret = basic_tokens.create("writer-ci", "--user", "writer", actions="pull,push,delete")
    assert secret.startswith("dyd_")
    assert len(secret) >= 4 + 43, "256 random bits after the prefix"
    with admin(basic_tokens) as root:
        root.push_image("other/x", "v1")
        elsewhere = root.push_image("team/elsewhere", "v1")
    with client(basic_tokens, secret) as token:
        pushed = token.push_image("team/app", "v1")
        assert token.get_manifest("team/app", "v1").status_code == 200
        assert_error(token.get_manifest("other/x", "v1"), 403, "DENIED")
        # The token names delete, its owner may not: the owner's rights win.
        assert_error(token.delete(f"/v2/team/app/manifests/{pushed.digest}"), 403, "DENIED")
        assert token.get_manifest("team/elsewhere", elsewhere.digest).status_code == 200


def test_a_token_narrower_than_its_owner(basic_tokens: TokenServers) -> None:
    """admin may do everything; this token of admin's only pulls, and only under team/."""
    secret = basic_tokens.create("admin-reader", "--user", "admin", actions="pull")
    with admin(basic_tokens) as root:
        root.push_image("team/narrow", "v1")
        root.push_image("wide/open", "v1")
    with client(basic_tokens, secret) as token:
        assert token.get_manifest("team/narrow", "v1").status_code == 200
        assert_error(token.get_manifest("wide/open", "v1"), 403, "DENIED")
        assert_error(token.start_upload("team/narrow"), 403, "DENIED")
        # Never an administrator, whoever owns it.
        assert_error(token.get("/metrics"), 403, "DENIED")


def test_a_pull_only_robot_cannot_push(basic_tokens: TokenServers) -> None:
    with admin(basic_tokens) as root:
        root.push_image("team/robot-app", "v1")
        root.push_image("other/robot-app", "v1")
    secret = basic_tokens.create("puller", "--robot", actions="pull")
    with client(basic_tokens, secret) as robot:
        # No rule names the robot: its grants are its own.
        assert robot.get_manifest("team/robot-app", "v1").status_code == 200
        assert_error(robot.start_upload("team/robot-app"), 403, "DENIED")
        assert_error(robot.get_manifest("other/robot-app", "v1"), 403, "DENIED")


def test_a_pushing_robot_pushes_where_its_globs_say(basic_tokens: TokenServers) -> None:
    secret = basic_tokens.create("builder", "--robot", repositories="team/builds/*", actions="pull,push")
    with client(basic_tokens, secret) as robot:
        robot.push_image("team/builds/app", "v1")
        assert robot.get_manifest("team/builds/app", "v1").status_code == 200
        assert_error(robot.start_upload("team/builds/app/deeper"), 403, "DENIED")


def test_wrong_and_unknown_tokens_fail_like_wrong_passwords(basic_tokens: TokenServers) -> None:
    with client(basic_tokens, "dyd_" + "A" * 43) as unknown:
        assert_error(unknown.get("/v2/"), 401, "UNAUTHORIZED")
    # A token is no password: it does not log in to the UI (a session would carry the owner's rights).
    secret = basic_tokens.create("ui-attempt", "--user", "reader", actions="pull")
    with httpx.Client(base_url=basic_tokens.url) as browser:
        csrf = browser.get("/v2/_dockyard/session").json()["csrf"]
        login = browser.post(
            "/v2/_dockyard/session", headers={**basic_secret(secret, "reader"), "x-dockyard-csrf": csrf}
        )
        assert login.status_code == 401

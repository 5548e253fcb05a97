"""Failed-login limits, secrets kept out of logs and bodies, htpasswd checks, `dockyard user`, TLS realms."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from bench.procs import free_port
from tests.auth.support import (
    PASSWORDS,
    TEST_COST,
    AuthServer,
    auth_config,
    basic,
    bearer,
    fetch_token,
    start_server,
)
from tests.http.ocitest import error_codes
from tests.support.server import DockyardServer
from tests.support.wait import wait_until
from tests.system.test_tls import self_signed

from dockyard.auth.htpasswd import hash_password


def test_failed_logins_are_limited_per_address(tmp_path: Path) -> None:
    server = start_server(tmp_path, token_mode=False, failed_logins_per_minute=3)
    try:
        url = f"{server.url}/v2/"
        for _ in range(3):
            assert httpx.get(url, headers=basic("admin", "guess")).status_code == 401
        limited = httpx.get(url, headers=basic("admin", "guess"))
        assert limited.status_code == 429
        assert error_codes(limited) == ["TOOMANYREQUESTS"]
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # While limited, even the right password waits: guessing gains nothing.
        assert httpx.get(url, headers=basic("admin")).status_code == 429
        # Without trusted proxies, X-Forwarded-For is the client's own word and changes nothing.
        spoofed = {**basic("admin", "guess"), "X-Forwarded-For": "198.51.100.9"}
        assert httpx.get(url, headers=spoofed).status_code == 429
    finally:
        server.stop()


def test_empty_basic_credentials_are_anonymous_not_a_failed_login(tmp_path: Path) -> None:
    """containers/image answers a Basic challenge it has no credentials for with `Basic Og==`."""
    server = start_server(tmp_path, token_mode=False, failed_logins_per_minute=2)
    try:
        empty = {"Authorization": "Basic Og=="}
        public = f"{server.url}/v2/public/nothing/tags/list"
        for _ in range(4):
            assert httpx.get(public, headers=empty).status_code == 404  # anonymous may pull public/**
            private = httpx.get(f"{server.url}/v2/team/private/tags/list", headers=empty)
            assert private.status_code == 401
            assert private.headers["www-authenticate"].startswith("Basic")
        assert httpx.get(f"{server.url}/v2/", headers=basic("admin")).status_code == 200
    finally:
        server.stop()


def test_token_endpoint_logins_are_limited_too(tmp_path: Path) -> None:
    server = start_server(tmp_path, token_mode=True, failed_logins_per_minute=2)
    try:
        url = f"{server.url}/auth/token"
        form = {"grant_type": "password", "username": "admin", "password": "guess"}
        assert [httpx.post(url, data=form).status_code for _ in range(3)] == [401, 401, 429]
        assert httpx.get(url, headers=basic("admin")).status_code == 429
    finally:
        server.stop()


def test_no_secret_reaches_the_log_or_a_body(tmp_path: Path) -> None:
    server = start_server(tmp_path, token_mode=True)
    try:
        token = fetch_token(server.url, "writer", "repository:team/log:pull,push")
        bodies = [
            httpx.get(f"{server.url}/v2/team/log/tags/list", headers=bearer(token)).text,
            httpx.get(f"{server.url}/v2/private/log/tags/list", headers=bearer(token)).text,
            httpx.get(f"{server.url}/v2/", headers=bearer(token + "x")).text,
            httpx.get(f"{server.url}/auth/token", headers=basic("writer", "typed-wrongly")).text,
            httpx.post(
                f"{server.url}/auth/token",
                data={"grant_type": "password", "username": "writer", "password": "typed-wrongly-too"},
            ).text,
        ]
    finally:
        server.stop()
    log = server.log()
    secrets = [token, token.split(".")[2], PASSWORDS["writer"], "typed-wrongly", "Authorization", "Basic d"]
    for secret in secrets:
        assert secret not in log
        assert all(secret not in body for body in bodies)
    assert "auth decision: user=writer repository=team/log action=pull allowed=True" in log
    assert "auth decision: user=writer repository=private/log action=pull allowed=False" in log


def _serve_fails(tmp_path: Path, htpasswd_text: str) -> str:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(htpasswd_text)
    env = {**os.environ, "DOCKYARD_AUTH__HTPASSWD": str(htpasswd)}
    command = [sys.executable, "-m", "dockyard", "serve", "--data-dir", str(tmp_path / "data"), "--listen"]
    result = subprocess.run([*command, "127.0.0.1:1"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    return result.stderr


@pytest.mark.parametrize(
    "line",
    [
        "old:$apr1$abcdefgh$0123456789abcdefghijkl",
        "sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
        "crypt:abJnggxhB/yWI",
        "plain:password",
    ],
)
def test_weaker_hashes_are_refused_at_startup(tmp_path: Path, line: str) -> None:
    stderr = _serve_fails(tmp_path, f"ok:{hash_password('x', TEST_COST).decode()}\n{line}\n")
    name = line.split(":", 1)[0]
    assert f"the password of user '{name}' is not a bcrypt hash" in stderr
    assert "htpasswd:2" in stderr


def test_htpasswd_b_hashes_are_accepted(tmp_path: Path) -> None:
    """`htpasswd -B` writes the $2y$ prefix."""
    hashed = hash_password("apache-pw", TEST_COST).decode().replace("$2b$", "$2y$", 1)
    (tmp_path / "htpasswd").write_text(f"apache:{hashed}\n")
    server = DockyardServer(tmp_path / "data", env={"DOCKYARD_AUTH__HTPASSWD": str(tmp_path / "htpasswd")}).start()
    try:
        assert httpx.get(f"{server.url}/v2/", auth=("apache", "apache-pw")).status_code == 200
    finally:
        server.stop()


def _user_command(server: AuthServer, *args: str, password: str = "") -> subprocess.CompletedProcess[str]:
    """`dockyard user` on the server's password file and metadata store, as its operator would run it."""
    env = {
        **os.environ,
        "DOCKYARD_AUTH__HTPASSWD": str(server.directory / "htpasswd"),
        "DOCKYARD_DATA_DIR": str(server.server.data_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "dockyard", "user", *args],
        check=False,
        env=env,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_user_command_edits_the_file_and_the_server_follows(basic_server: AuthServer) -> None:
    htpasswd = basic_server.directory / "htpasswd"
    added = _user_command(basic_server, "add", "newcomer", "--password-stdin", password="newcomer-pw")
    assert added.returncode == 0, added.stderr
    assert "newcomer-pw" not in htpasswd.read_text()
    assert oct(htpasswd.stat().st_mode & 0o777) == "0o600"
    assert "newcomer" in _user_command(basic_server, "list").stdout.split()
    url = f"{basic_server.url}/v2/"

    def newcomer_answered() -> int:
        return httpx.get(url, auth=("newcomer", "newcomer-pw")).status_code

    wait_until(lambda: newcomer_answered() == 200, 20, "the server never picked up the new user")
    assert _user_command(basic_server, "remove", "newcomer").returncode == 0
    wait_until(lambda: newcomer_answered() == 401, 20, "the server never forgot the removed user")
    missing = _user_command(basic_server, "remove", "newcomer")
    assert missing.returncode != 0
    assert "no user 'newcomer'" in missing.stderr
    assert _user_command(basic_server, "add", "bad:name", "--password-stdin", password="x").returncode != 0
    too_long = _user_command(basic_server, "add", "verbose", "--password-stdin", password="p" * 73)
    assert too_long.returncode != 0
    assert "longer than bcrypt's 72 bytes" in too_long.stderr


def test_realm_is_https_under_tls_and_follows_external_url(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    config_dir = tmp_path / "tls"
    config_dir.mkdir()
    env = {"DOCKYARD_TLS_CERT": str(cert), "DOCKYARD_TLS_KEY": str(key)}
    config = auth_config(config_dir, token_mode=True)
    server = DockyardServer(tmp_path / "data", ["--config", str(config)], env=env, tls_ca=cert).start()
    try:
        response = httpx.get(f"{server.url}/v2/", verify=server.verify)
        assert response.headers["www-authenticate"].startswith(f'Bearer realm="https://127.0.0.1:{server.port}/')
        token = httpx.get(f"{server.url}/auth/token", headers=basic("admin"), verify=server.verify).json()["token"]
        assert httpx.get(f"{server.url}/v2/", headers=bearer(token), verify=server.verify).status_code == 200
    finally:
        server.stop()
    behind_proxy = start_server(tmp_path / "proxy", token_mode=True, external_url="https://registry.example.com/")
    try:
        response = httpx.get(f"{behind_proxy.url}/v2/")
        assert response.headers["www-authenticate"].startswith('Bearer realm="https://registry.example.com/auth/token"')
    finally:
        behind_proxy.stop()


def test_the_realm_never_follows_the_host_header(token_server: AuthServer) -> None:
    response = httpx.get(f"{token_server.url}/v2/", headers={"Host": "registry.evil.example"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith(f'Bearer realm="{token_server.url}/auth/token"')


def _dockyard_exits(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A dockyard command expected to end by itself; should it serve instead, its process group is
    killed at the deadline (and the test fails)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dockyard", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise AssertionError(f"dockyard {' '.join(args)} did not exit") from None
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def test_token_mode_on_a_public_address_needs_an_external_url(tmp_path: Path) -> None:
    config = str(auth_config(tmp_path, token_mode=True))
    env = {"DOCKYARD_DATA_DIR": str(tmp_path / "data"), "DOCKYARD_LISTEN": f"0.0.0.0:{free_port()}"}
    for args in (("serve", "--config", config), ("config", "check", config)):
        result = _dockyard_exits(*args, env=env)
        assert result.returncode != 0, args
        assert "error: auth.external_url: " in result.stderr, args

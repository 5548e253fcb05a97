"""A personal token is decided by its owner's rights at the time of use: when the rules change (a
restart with another configuration), the stored token, unchanged, loses what its owner lost."""

from __future__ import annotations

from pathlib import Path

from tests.auth.support import RULES, auth_config
from tests.http.ocitest import RegistryClient, assert_error
from tests.support.server import DockyardServer
from tests.tokens.support import TokenServers, basic_secret


def test_an_owner_who_loses_a_right_loses_it_in_the_token(tmp_path: Path) -> None:
    servers = TokenServers.start(tmp_path, token_mode=False)
    try:
        secret = servers.create("writer-push", "--user", "writer", actions="pull,push")
        with RegistryClient(servers.url) as token:
            token.http.headers.update(basic_secret(secret))
            token.push_image("team/rights", "v1")
    finally:
        servers.stop()

    without_push = [rule for rule in RULES if rule.get("users") != ["writer"]]
    config = auth_config(tmp_path, False, access_tokens=True, rules=without_push)
    server = DockyardServer(servers.servers[0].data_dir, ["--config", str(config)]).start()
    try:
        with RegistryClient(server.url) as token:
            token.http.headers.update(basic_secret(secret))
            assert token.get_manifest("team/rights", "v1").status_code == 200, "writer still pulls (group readers)"
            assert_error(token.start_upload("team/rights"), 403, "DENIED")
    finally:
        server.stop()

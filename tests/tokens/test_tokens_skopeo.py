"""A real client with access tokens as its password: skopeo copies with a pushing robot's token, in
Basic mode and in token mode (where it fetches bearer tokens with the access token), and a pull-only
robot's token is refused the push."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.interop.auth import refused
from tests.interop.clients import ContainersConfig, Skopeo
from tests.interop.harness import small_layout
from tests.tokens.support import TokenServers

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("mode", ["basic", "bearer"])
def test_skopeo_copies_with_a_robot_token(mode: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    servers: TokenServers = request.getfixturevalue(f"{mode}_tokens")
    host = servers.url.removeprefix("http://")
    skopeo = Skopeo(ContainersConfig(tmp_path / "c", host))
    layout, digest = small_layout(tmp_path / "layout", f"a robot in {mode} mode")
    pusher = servers.create(f"skopeo-{mode}", "--robot", repositories="team/skopeo/**", actions="pull,push")
    puller = servers.create(f"skopeo-{mode}-pull", "--robot", repositories="team/skopeo/**", actions="pull")
    source = f"oci:{layout.path}:v1"
    target = f"docker://{host}/team/skopeo/{mode}:v1"

    refused(skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"ci:{puller}", source, target, check=False))
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"ci:{pusher}", source, target)
    inspected = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", f"ci:{puller}", target)
    assert inspected.stdout.strip(), inspected.describe()
    digest_line = skopeo("inspect", "--tls-verify=false", "--creds", f"ci:{puller}", "--format", "{{.Digest}}", target)
    assert digest_line.stdout.strip() == digest
    assert pusher[4:] not in servers.log()

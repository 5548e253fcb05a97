"""dockyard runs on the power-loss filesystem, and what it completed survives a power cut.

The data directory is made durable first, as an administrator who creates it before the first start
would, or left for dockyard to create. The server is SIGKILLed first, as the power takes every
process along, then the power is cut and a new server starts on what the disk kept.
"""

from __future__ import annotations

import os

import pytest
from tests.http.ocitest import RegistryClient
from tests.support.powercut import PowerCutDir
from tests.support.server import DockyardServer

pytestmark = pytest.mark.slow

REPO = "powerloss/smoke"


@pytest.mark.parametrize("created_by", ["admin", "dockyard"])
def test_completed_pushes_survive_a_power_cut(powercut_dir: PowerCutDir, created_by: str) -> None:
    data_dir = powercut_dir.path / "srv" / "data"
    data_dir.parent.mkdir()  # where the server's log goes
    if created_by == "admin":
        data_dir.mkdir()
    powercut_dir.sync()
    blob = os.urandom(3 << 20)
    server = DockyardServer(data_dir).start()
    try:
        with RegistryClient(server.url) as client:
            digest = client.push_blob(REPO, blob)
            pushed = client.push_image(REPO, "v1", layers=2)
            assert client.get_blob(REPO, digest).content == blob  # served from the mount
    finally:
        server.kill()
    powercut_dir.cut()
    powercut_dir.mount()
    with DockyardServer(data_dir) as server, RegistryClient(server.url) as client:
        assert client.get_blob(REPO, digest).content == blob
        response = client.get_manifest(REPO, "v1")
        assert response.status_code == 200
        assert response.content == pushed.body

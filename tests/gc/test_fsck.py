"""fsck finds a blob corrupted on disk and one deleted behind the registry's back, and repairs them."""

from __future__ import annotations

import subprocess

from tests.gc.conftest import run_command
from tests.http.ocitest import RegistryClient, digest_of
from tests.support.backends import every_backend, flip_stored_byte, quarantined_blobs, remove_stored_blob
from tests.support.server import DockyardServer


def _fsck(server: DockyardServer, *flags: str) -> subprocess.CompletedProcess[str]:
    return run_command(server, "fsck", *flags)


@every_backend
def test_fsck_finds_and_repairs_a_flipped_byte_and_a_vanished_blob(idle_server: DockyardServer) -> None:
    flipped, vanished = b"a layer that will rot" * 100, b"a layer that will vanish" * 100
    with RegistryClient(idle_server.url) as client:
        for data in (flipped, vanished, b"a layer that stays well"):
            client.push_blob("fsck/app", data)
        assert _fsck(idle_server).returncode == 0

        flip_stored_byte(idle_server.data_dir, idle_server.env, digest_of(flipped), 1000)
        remove_stored_blob(idle_server.data_dir, idle_server.env, digest_of(vanished))

        found = _fsck(idle_server)
        assert found.returncode == 1
        assert f"corrupt {digest_of(flipped)}" in found.stdout
        assert f"missing {digest_of(vanished)}" in found.stdout
        assert "checked 3 blobs" in found.stdout

        repaired = _fsck(idle_server, "--repair")
        assert repaired.returncode == 0, repaired.stdout
        assert "2 problems, 2 repaired" in repaired.stdout
        assert digest_of(flipped) in quarantined_blobs(idle_server.data_dir, idle_server.env)
        for data in (flipped, vanished):
            assert client.head(f"/v2/fsck/app/blobs/{digest_of(data)}").status_code == 404
            client.push_blob("fsck/app", data)
            pulled = client.get_blob("fsck/app", digest_of(data))
            assert digest_of(pulled.content) == digest_of(data)
        assert _fsck(idle_server).returncode == 0

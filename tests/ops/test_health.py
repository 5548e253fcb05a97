"""/healthz answers without I/O; /readyz names the store that fails, and recovers with it."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from tests.ops.conftest import StartServer


def test_healthz_and_readyz_answer(start_server: StartServer) -> None:
    server = start_server()
    alive = httpx.get(server.url + "/healthz")
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok"}
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
    assert httpx.head(server.url + "/healthz").status_code == 200


def test_readyz_fails_while_the_blob_directory_is_gone(start_server: StartServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data_dir=data)
    blobs, away = data / "blobs", data / "blobs.away"
    # Tests run as root, whom permissions do not stop: put a plain file where the directory was.
    os.rename(blobs, away)
    blobs.write_text("not a directory")
    try:
        unready = httpx.get(server.url + "/readyz")
        assert unready.status_code == 503
        body = unready.json()
        assert body["status"] == "unready"
        assert list(body["failing"]) == ["blob store"]
        assert "NotADirectoryError" in body["failing"]["blob store"]
        assert httpx.get(server.url + "/healthz").status_code == 200  # alive all the same
    finally:
        blobs.unlink()
        os.rename(away, blobs)
    assert httpx.get(server.url + "/readyz").status_code == 200

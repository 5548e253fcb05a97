"""Abandoned upload sessions are purged with their bytes; active ones are not."""

from __future__ import annotations

import os

from tests.http.ocitest import RegistryClient, assert_error, digest_of
from tests.support.backends import every_backend, stored_uploads
from tests.support.server import DockyardServer
from tests.support.wait import wait_until


@every_backend
def test_abandoned_uploads_are_purged_with_their_bytes(fresh_server: DockyardServer) -> None:
    fresh_server.env["DOCKYARD_UPLOADS__STALE_AFTER_SECONDS"] = "2"
    server = fresh_server.start()
    try:
        client = RegistryClient(server.url)
        abandoned = client.open_session("purge/test")
        assert client.patch(abandoned, os.urandom(4096)).status_code == 202
        assert len(stored_uploads(server.data_dir, server.env)) == 1

        kept_alive, data = client.open_session("purge/test"), b""

        def purged_while_another_is_touched() -> bool:
            nonlocal kept_alive, data
            chunk = os.urandom(100)
            response = client.patch(kept_alive, chunk)  # touching a session keeps it
            assert response.status_code == 202
            kept_alive, data = response.headers["location"], data + chunk
            return client.upload_status(abandoned).status_code != 204

        wait_until(purged_while_another_is_touched, 30, "the abandoned session was never purged", interval=0.3)
        assert_error(client.upload_status(abandoned), 404, "BLOB_UPLOAD_UNKNOWN")
        assert client.finish(kept_alive, digest_of(data)).status_code == 201
        assert stored_uploads(server.data_dir, server.env) == set()
    finally:
        server.stop()

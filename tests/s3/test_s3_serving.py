"""dockyard serving from S3: redirects to presigned URLs, several instances on one bucket,
start-up checks, and the purge of abandoned multipart uploads."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
from tests.http.ocitest import RegistryClient, digest_of
from tests.s3.conftest import ServerFactory
from tests.support.ceph import S3Endpoint
from tests.support.s3 import s3_admin, server_env
from tests.support.server import DockyardServer
from tests.support.wait import wait_until

MIB = 1 << 20
REPO = "s3/serving"


def test_redirect_mode_answers_307_with_a_presigned_url_the_client_follows(s3_server: ServerFactory) -> None:
    server = s3_server(DOCKYARD_STORAGE__S3__REDIRECT="true")
    data = os.urandom(3 * MIB + 11)
    with RegistryClient(server.url) as client:
        digest = client.push_blob(REPO, data)
        redirect = client.get_blob(REPO, digest)
        assert redirect.status_code == 307
        assert redirect.headers["docker-content-digest"] == digest
        location = redirect.headers["location"]
        assert "X-Amz-Signature=" in location
        assert not location.startswith(server.url)

        followed = client.get_blob(REPO, digest, follow_redirects=True)
        assert followed.status_code == 200
        assert digest_of(followed.content) == digest

        ranged = httpx.get(location, headers={"Range": "bytes=100-199"}, timeout=30)
        assert ranged.status_code == 206
        assert ranged.content == data[100:200]

        head = client.head(client.blob_url(REPO, digest))
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(data))
        assert head.headers["docker-content-digest"] == digest
        assert client.get_blob(REPO, digest_of(b"never pushed")).status_code == 404


def test_chunks_of_one_upload_go_to_different_instances(s3_server: ServerFactory, tmp_path: Path) -> None:
    shared = tmp_path / "shared-metadata"  # SQLite is shared by processes on one machine
    servers = [s3_server(shared) for _ in range(3)]
    chunks = [os.urandom(size) for size in (5, 6 * MIB, 3, 2 * MIB, 9 * MIB + 1, 17)]
    data = b"".join(chunks)
    digest = digest_of(data)
    clients = [RegistryClient(server.url) for server in servers]
    try:
        location = clients[0].open_session(REPO)
        offset = 0
        for number, chunk in enumerate(chunks):
            # Locations are relative to whichever instance answered: the next chunk goes elsewhere.
            patched = clients[(number + 1) % 3].patch(
                location, [chunk], f"{offset}-{offset + len(chunk) - 1}", len(chunk)
            )
            assert patched.status_code == 202, patched.text
            offset += len(chunk)
            assert patched.headers["range"] == f"0-{offset - 1}"
            location = patched.headers["location"]
        assert clients[1].upload_status(location).headers["range"] == f"0-{len(data) - 1}"
        done = clients[2].finish(location, digest)
        assert done.status_code == 201, done.text
        for client in clients:
            response = client.get_blob(REPO, digest)
            assert response.status_code == 200
            assert response.content == data
    finally:
        for client in clients:
            client.close()


def test_a_wrong_digest_from_another_instance_is_refused_and_nothing_appears(
    s3_server: ServerFactory, tmp_path: Path
) -> None:
    shared = tmp_path / "shared-metadata"
    first, second = s3_server(shared), s3_server(shared)
    with RegistryClient(first.url) as one, RegistryClient(second.url) as two:
        location = one.open_session(REPO)
        patched = two.patch(location, [b"some bytes"], "0-9", 10)
        assert patched.status_code == 202
        claimed = digest_of(b"other bytes")
        assert one.finish(patched.headers["location"], claimed).status_code == 400
        assert two.head(two.blob_url(REPO, claimed)).status_code == 404


def _serve_once(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dockyard", "serve", "--listen", "127.0.0.1:1", "--data-dir", str(tmp_path / "d")]
    return subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False)


def test_serve_fails_fast_and_says_why_without_the_secret(
    s3_endpoint: S3Endpoint, s3_env: dict[str, str], tmp_path: Path
) -> None:
    wrong_secret = "not-the-secret-" + "x" * 20
    refused = _serve_once(tmp_path, {**s3_env, "DOCKYARD_STORAGE__S3__SECRET_KEY": wrong_secret})
    assert refused.returncode != 0
    assert "credentials were refused" in refused.stderr
    assert wrong_secret not in refused.stderr + refused.stdout

    missing = _serve_once(tmp_path, server_env(s3_endpoint, "no-such-bucket-here"))
    assert missing.returncode != 0
    assert "bucket does not exist" in missing.stderr

    unreachable = _serve_once(tmp_path, {**s3_env, "DOCKYARD_STORAGE__S3__ENDPOINT": "http://127.0.0.1:9"})
    assert unreachable.returncode != 0
    assert "127.0.0.1:9" in unreachable.stderr
    assert s3_endpoint.secret_key not in unreachable.stderr + refused.stderr + missing.stderr


def test_the_start_up_line_names_the_bucket(s3_server: ServerFactory, s3_env: dict[str, str]) -> None:
    server = s3_server()
    assert f"blobs: S3 bucket '{s3_env['DOCKYARD_STORAGE__S3__BUCKET']}'" in server.log()
    assert s3_env["DOCKYARD_STORAGE__S3__SECRET_KEY"] not in server.log()


def _multipart_uploads(endpoint: S3Endpoint, bucket: str) -> list[str]:
    uploads = s3_admin(endpoint).list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return [upload["Key"] for upload in uploads]


def test_purge_aborts_the_multipart_upload_a_killed_instance_left(
    s3_server: ServerFactory, s3_endpoint: S3Endpoint, s3_env: dict[str, str], tmp_path: Path
) -> None:
    bucket = s3_env["DOCKYARD_STORAGE__S3__BUCKET"]
    shared = tmp_path / "shared-metadata"
    victim = s3_server(shared)
    with RegistryClient(victim.url) as client:
        location = client.open_session(REPO)
    _kill_mid_patch(victim, location, 40 * MIB)
    assert _multipart_uploads(s3_endpoint, bucket), "the killed instance left no multipart upload"

    purger = s3_server(shared, DOCKYARD_UPLOADS__STALE_AFTER_SECONDS="1")
    wait_until(
        lambda: not _multipart_uploads(s3_endpoint, bucket),
        60,
        "the multipart upload was never aborted",
        interval=0.5,
    )
    with RegistryClient(purger.url) as client:
        assert client.upload_status(location).status_code == 404
    keys = s3_admin(s3_endpoint).list_objects_v2(Bucket=bucket, Prefix="uploads/").get("KeyCount", 0)
    assert keys == 0


def _kill_mid_patch(server: DockyardServer, location: str, send_bytes: int) -> None:
    """Send part of a body twice as large, then SIGKILL the server while it receives."""
    url = httpx.URL(server.url).join(location)

    def body() -> object:
        for _ in range(send_bytes // MIB):
            yield b"\0" * MIB
        server.kill()
        for _ in range(send_bytes // MIB):  # into a connection that breaks
            yield b"\0" * MIB

    with contextlib.suppress(httpx.TransportError):
        httpx.patch(url, content=body(), headers={"Content-Type": "application/octet-stream"}, timeout=60)  # type: ignore[arg-type]


def test_dockyard_config_shows_the_s3_settings_but_not_the_secret(tmp_path: Path) -> None:
    secret = "a-secret-that-must-not-show-" + "y" * 12
    env = {**os.environ, **server_env(S3Endpoint("http://127.0.0.1:7480", "key", secret), "some-bucket")}
    shown = subprocess.run(
        [sys.executable, "-m", "dockyard", "config", "--data-dir", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert '"bucket": "some-bucket"' in shown.stdout
    assert secret not in shown.stdout

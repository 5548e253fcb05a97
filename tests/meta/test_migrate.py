"""`dockyard migrate` copies an embedded registry into PostgreSQL and the target's blob store (a
data directory or an S3 bucket): interrupted and resumed, run again to no effect, verified by
pulling everything from the target, with the source untouched and corrupt blobs refused."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.http.ocitest import OCI_INDEX, RegistryClient, digest_of, index_manifest, manifest_descriptor, seeded_chunks
from tests.support.backends import backend_env, stored_blobs
from tests.support.server import DockyardServer
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow
MIB = 1 << 20


def populate(data_dir: Path) -> tuple[dict[str, dict[str, bytes]], str]:
    """An embedded registry with images, big layers, an index and a referrer: {repo: {tag: body}}
    and the digest of the manifest the referrer refers to."""
    pushed: dict[str, dict[str, bytes]] = {}
    with DockyardServer(data_dir) as server, RegistryClient(server.url) as client:
        for repo, tags in (("team/app", ["v1", "v2", "latest"]), ("team/db", ["15"])):
            pushed[repo] = {tag: client.push_image(repo, tag, layers=3, seed=tag).body for tag in tags}
        for number in range(6):  # enough bytes that an interruption lands mid-copy
            client.push_blob("team/big", b"".join(seeded_chunks(number, 3 * MIB)))
        app = pushed["team/app"]
        index = index_manifest([manifest_descriptor(app["v1"]), manifest_descriptor(app["v2"])])
        client.push_manifest("team/app", "multi", index, OCI_INDEX)
        app["multi"] = index
        subject = client.push_image("team/app", None, seed="signed")
        client.push_artifact("team/app", subject, "application/vnd.example.sig")
    return pushed, subject.digest


def fingerprint(data_dir: Path) -> dict[str, str]:
    files = [data_dir / "metadata.db", *sorted((data_dir / "blobs").rglob("*"))]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in files if path.is_file()}


def migrate_command(source: Path, target: Path, env: dict[str, str]) -> Callable[[], subprocess.Popen[str]]:
    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "dockyard", "migrate", "--from", str(source), "--data-dir", str(target)],
            env={**os.environ, **env},
            stderr=subprocess.PIPE,
            text=True,
        )

    return start


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=300)
    return process.returncode, stderr


@pytest.mark.parametrize("backend", ["pg-fs", "pg-s3"])
def test_migrate_interrupted_resumed_and_verified_by_pulling(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    source, target = tmp_path / "embedded", tmp_path / "target"
    pushed, subject = populate(source)
    before = fingerprint(source)
    env = backend_env(request, backend)
    migrate = migrate_command(source, target, env)

    interrupted = migrate()
    wait_until(
        lambda: interrupted.poll() is not None or len(stored_blobs(target, env)) >= 5,
        60,
        "the first run never copied 5 blobs",
        interval=0.002,
    )
    interrupted.send_signal(signal.SIGKILL)
    assert interrupted.wait(30) == -signal.SIGKILL, "the first run ended before it was interrupted"

    code, summary = finish(migrate())
    assert code == 0, summary
    assert " 0 failed verification" in summary, summary
    resumed = re.search(r"(\d+) blobs copied .*, (\d+) already there", summary)
    assert resumed, summary
    assert int(resumed[2]) >= 5  # what the interrupted run stored is not copied again
    assert int(resumed[1]) + int(resumed[2]) == len(stored_blobs(target, env))
    code, again = finish(migrate())
    assert code == 0, again
    assert "dockyard migrate: 0 blobs copied (0 bytes)" in again, again
    assert fingerprint(source) == before

    with (
        DockyardServer(target, env=env) as new,
        DockyardServer(source) as old,
        RegistryClient(new.url) as to,
        RegistryClient(old.url) as was,
    ):
        assert to.get("/v2/_catalog").json() == was.get("/v2/_catalog").json()
        for repo in was.get("/v2/_catalog").json()["repositories"]:
            assert to.tags(repo).json() == was.tags(repo).json()
        for repo, tags in pushed.items():
            for tag, body in tags.items():
                served = to.get_manifest(repo, tag)
                assert served.content == body
                document = served.json()
                for blob in filter(None, [document.get("config"), *document.get("layers", [])]):
                    assert digest_of(to.get_blob(repo, blob["digest"]).content) == blob["digest"]
        for number in range(6):
            big = b"".join(seeded_chunks(number, 3 * MIB))
            assert to.get_blob("team/big", digest_of(big)).content == big
        assert to.referrers("team/app", subject).json() == was.referrers("team/app", subject).json()
        assert len(to.referrers("team/app", subject).json()["manifests"]) == 1


def test_migrate_refuses_a_blob_that_does_not_match_its_digest(
    postgres_database: Callable[[], dict[str, str]], tmp_path: Path
) -> None:
    source, target = tmp_path / "embedded", tmp_path / "target"
    pushed, _ = populate(source)
    damaged = tmp_path / "damaged"
    shutil.copytree(source, damaged)
    layer = max((damaged / "blobs").rglob("*"), key=lambda path: path.stat().st_size if path.is_file() else 0)
    layer.write_bytes(b"rot" + layer.read_bytes()[3:])
    env = postgres_database()
    code, summary = finish(migrate_command(damaged, target, env)())
    assert code == 1
    assert "1 failed verification" in summary, summary
    with DockyardServer(target, env=env) as new, RegistryClient(new.url) as client:
        assert client.get_manifest("team/app", "v1").content == pushed["team/app"]["v1"]
        assert client.get_blob("team/big", f"sha256:{layer.name}").status_code == 404

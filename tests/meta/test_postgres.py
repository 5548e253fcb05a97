"""What only the PostgreSQL metadata store has to get right: start-up against a server that is
down, refuses us or is being migrated by a sibling, and a server restart under a running dockyard."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from bench.postgres import PostgresCluster
from bench.procs import free_port
from tests.http.ocitest import RegistryClient
from tests.support.server import DockyardServer

pytestmark = pytest.mark.slow
MIGRATIONS = Path(__file__).parents[2] / "src/dockyard/meta/migrations/postgres"


def dockyard(*args: str, url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"DOCKYARD_DATABASE__URL": url, "DOCKYARD_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "dockyard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )


@pytest.mark.parametrize("problem", ["unreachable", "wrong password"])
def test_serve_fails_fast_with_one_line_and_no_password(
    problem: str, postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    secret = "not-the-password-4711"
    if problem == "unreachable":
        url = f"postgresql://dockyard:{secret}@127.0.0.1:{free_port()}/nothing"
    else:
        url = postgres_cluster.url("postgres").replace(postgres_cluster.password, secret)
    done = dockyard("serve", "--listen", f"127.0.0.1:{free_port()}", url=url, tmp_path=tmp_path)
    assert done.returncode != 0
    assert done.stderr.startswith("dockyard: cannot use PostgreSQL at postgresql://dockyard:***@127.0.0.1:")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert ("refused" if problem == "unreachable" else "password authentication failed") in done.stderr
    assert secret not in done.stderr + done.stdout


def test_config_shows_the_url_without_its_password(tmp_path: Path) -> None:
    shown = dockyard("config", url="postgresql://someone:hunter2@db.example:5432/registry", tmp_path=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert '"url": "postgresql://someone:***@db.example:5432/registry"' in shown.stdout
    assert "hunter2" not in shown.stdout


def test_instances_starting_together_migrate_an_empty_database_once(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    url = postgres_cluster.create_database()
    servers = [DockyardServer(tmp_path / f"data{n}", env={"DOCKYARD_DATABASE__URL": url}) for n in range(3)]
    errors: list[BaseException] = []

    def start(server: DockyardServer) -> None:
        try:
            server.start()
        except BaseException as error:  # reported below, with the server's log
            errors.append(error)

    threads = [threading.Thread(target=start, args=(server,)) for server in servers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        with psycopg.connect(url) as conn:
            applied = conn.execute("SELECT count(*) FROM _yoyo_migration").fetchone()
        assert applied == (len(list(MIGRATIONS.glob("*.sql"))),)
        for server in servers:
            with RegistryClient(server.url) as client:
                client.push_image("together/one", server.url.rsplit(":", 1)[1])
    finally:
        for server in servers:
            server.kill()


@pytest.fixture
def private_cluster() -> Iterator[PostgresCluster]:
    """A cluster of the test's own, since the test restarts it."""
    with PostgresCluster() as cluster:
        yield cluster


def test_a_postgres_restart_costs_no_failed_request(private_cluster: PostgresCluster, tmp_path: Path) -> None:
    url = private_cluster.create_database()
    server = DockyardServer(tmp_path / "data", env={"DOCKYARD_DATABASE__URL": url}).start()
    try:
        with RegistryClient(server.url) as client:
            pushed = [client.push_image("restart/test", f"before{n}") for n in range(4)]
            private_cluster.restart()
            for n, image in enumerate(pushed):  # reads on connections the restart closed
                assert client.get_manifest("restart/test", image.digest).content == image.body
                assert client.tags("restart/test").status_code == 200
                assert client.get_manifest("restart/test", f"before{n}").status_code == 200
            private_cluster.restart()
            after = client.push_image("restart/test", "after")  # writes too
            assert client.get_manifest("restart/test", "after").content == after.body
    finally:
        server.stop()

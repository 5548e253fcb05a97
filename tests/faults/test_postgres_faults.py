"""PostgreSQL restarted, and its connections terminated, while pushes, tag moves, deletes and garbage
collection (the server's own and `dockyard gc --now`) run: each request completes or fails with a
503 and the spec's error body, the client's retry succeeds, no worker stays wedged, and what was
acknowledged is there afterwards, with nothing for fsck to find."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from bench.postgres import PostgresCluster
from tests.faults.chaos import ChaosClient, Ledger, verify
from tests.support.server import DockyardServer

pytestmark = pytest.mark.slow

REPO = "faults/postgres"
WORKERS = 3
ROUNDS = 8  # per worker: an image pushed and the worker's `latest` moved to it, a tag deleted every third
ACKS_BETWEEN_FAULTS = 3
PROGRESS_TIMEOUT = 120.0


@pytest.fixture
def private_cluster() -> Iterator[PostgresCluster]:
    """A cluster of the test's own, since the test restarts it."""
    with PostgresCluster() as cluster:
        yield cluster


def terminate_connections(cluster: PostgresCluster, database_url: str) -> int:
    """pg_terminate_backend on every connection to the database but this one; how many there were."""
    database = database_url.rsplit("/", 1)[1]
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0


def dockyard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("DOCKYARD_")}
    command = [sys.executable, "-m", "dockyard", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**clean, **env}, check=False)


def in_threads(*jobs: Callable[[], None]) -> tuple[list[threading.Thread], list[BaseException]]:
    failures: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as error:  # reported by the test, with the others
            failures.append(error)

    threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    return threads, failures


def test_pushes_tag_moves_and_gc_ride_out_killed_connections_and_restarts(
    private_cluster: PostgresCluster, tmp_path: Path
) -> None:
    url = private_cluster.create_database()
    env = {
        "DOCKYARD_DATABASE__URL": url,
        "DOCKYARD_DATA_DIR": str(tmp_path / "data"),
        # The server's own collector reviews at once, racing the pushes as `gc --now` does.
        "DOCKYARD_GC__REVIEW_DELAY_SECONDS": "0",
        "DOCKYARD_GC__IDLE_SECONDS": "0.2",
    }
    server = DockyardServer(tmp_path / "data", env=env).start()
    ledger = Ledger()
    done = threading.Event()
    gc_runs: list[subprocess.CompletedProcess[str]] = []

    def work(number: int) -> None:
        with ChaosClient([server.url], ledger, random.Random(number)) as client:
            for round_ in range(ROUNDS):
                image = client.push_image(REPO, f"w{number}-{round_}", seed=f"worker {number} round {round_}")
                client.move_tag(REPO, f"w{number}-latest", image)
                if round_ % 3 == 2:
                    client.delete_tag(REPO, f"w{number}-{round_ - 1}")

    def collect() -> None:
        while not done.is_set():
            gc_runs.append(dockyard(env, "gc", "--now"))

    def faults() -> None:
        for number in range(1000):
            ledger.wait_for_more(ACKS_BETWEEN_FAULTS, PROGRESS_TIMEOUT, done)
            if done.is_set():
                return
            if number % 3 == 2:
                private_cluster.restart()
                ledger.met("PostgreSQL restarted")
            else:
                ledger.met(f"{terminate_connections(private_cluster, url)} connections terminated")

    try:
        workers, failures = in_threads(*(lambda n=n: work(n) for n in range(WORKERS)))
        helpers, helper_failures = in_threads(collect, faults)
        for thread in workers:
            thread.join(PROGRESS_TIMEOUT * 3)
        done.set()
        for thread in helpers:
            thread.join(PROGRESS_TIMEOUT)
        assert not failures + helper_failures, failures + helper_failures
        assert ledger.faults["PostgreSQL restarted"] >= 1, ledger.faults

        for run in gc_runs:  # a run the database broke off ends saying so in a line; the next one works
            assert "Traceback" not in run.stderr, run.stderr
            assert run.returncode == 0 or run.stderr.strip().splitlines()[-1].startswith("dockyard gc: "), run.stderr
        assert dockyard(env, "gc", "--now").returncode == 0

        verify(server.url, ledger)
        with ChaosClient([server.url], ledger, random.Random(0)) as client:  # no worker is wedged
            client.push_image(REPO, "after", seed="after the faults")
        checked = dockyard(env, "fsck")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert " 0 problems" in checked.stdout
    finally:
        server.kill()
    log = server.log()
    assert "Traceback" not in log, log[-5000:]
    assert log.count("Started worker") == 1, "a worker died and was replaced"

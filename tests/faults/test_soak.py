"""A soak on PostgreSQL + S3 with three instances: clients push, pull, move and delete tags while
`dockyard gc --now` runs over and over and instances are SIGKILLed and restarted at random. Afterwards
every acknowledged tag serves what it was acknowledged with, its blobs intact, deleted tags are gone,
and `dockyard fsck` finds nothing to repair.

The run is bounded by DOCKYARD_SOAK_SECONDS (75 by default) and its random choices follow
DOCKYARD_SOAK_SEED (the seed is in every failure message): run it longer, or again with the seed of
a failure, by setting them.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.faults.chaos import ChaosClient, Image, Ledger, verify
from tests.support.server import DockyardServer

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("DOCKYARD_SOAK_SECONDS", "75"))
SEED = int(os.environ.get("DOCKYARD_SOAK_SEED", "20"))
INSTANCES = 3
CLIENTS = 4
REPOSITORIES = ("soak/alpha", "soak/beta")
TAGS_PER_CLIENT = 6
PROGRESS_TIMEOUT = 180.0


@dataclass
class Soak:
    """The run's shared state: its end, what went wrong in a thread, and what the helpers did."""

    deadline: float
    stop: threading.Event = field(default_factory=threading.Event)
    failures: list[str] = field(default_factory=list)
    kills: int = 0
    gc_runs: int = 0

    def running(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline


def dockyard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("DOCKYARD_")}
    command = [sys.executable, "-m", "dockyard", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**clean, **env}, check=False)


def client_work(number: int, urls: list[str], ledger: Ledger, soak: Soak) -> None:
    """Pushes, pulls, tag moves and deletes on tags of this client's own, chosen by its seeded dice."""
    rng = random.Random(SEED * 100 + number)
    current: dict[tuple[str, str], Image] = {}
    pushed: list[Image] = []
    with ChaosClient(urls, ledger, rng) as client:
        for step in range(100_000):
            if not soak.running():
                return
            repository = rng.choice(REPOSITORIES)
            tag = f"c{number}-t{rng.randrange(TAGS_PER_CLIENT)}"
            roll = rng.random()
            if roll < 0.4 or not pushed:
                image = client.push_image(repository, tag, seed=f"client {number} step {step} seed {SEED}")
                pushed.append(image)
                current[(repository, tag)] = image
            elif roll < 0.6:
                image = rng.choice(pushed)
                client.move_tag(repository, tag, image)
                current[(repository, tag)] = image
            elif roll < 0.75 and (repository, tag) in current:
                client.delete_tag(repository, tag)
                del current[(repository, tag)]
            elif current:
                (pulled_repository, pulled_tag), image = rng.choice(sorted(current.items(), key=lambda item: item[0]))
                client.pull(pulled_repository, pulled_tag, image)


def kill_and_restart(servers: list[DockyardServer], ledger: Ledger, soak: Soak) -> None:
    """Now and then (by progress, not time) SIGKILL one instance, and start it again a little later."""
    rng = random.Random(SEED)
    while soak.running():
        ledger.wait_for_more(rng.randint(4, 12), PROGRESS_TIMEOUT, soak.stop)
        if not soak.running():
            return
        victim = rng.choice(servers)
        victim.kill()
        soak.kills += 1
        ledger.wait_for_more(rng.randint(2, 8), PROGRESS_TIMEOUT, soak.stop)  # the others serve meanwhile
        victim.start(timeout=120)


def collect_garbage(env: dict[str, str], soak: Soak) -> None:
    while soak.running():
        run = dockyard(env, "gc", "--now")
        soak.gc_runs += 1
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Traceback" not in run.stderr, run.stderr


def in_thread(job: Callable[[], None], soak: Soak) -> threading.Thread:
    def run() -> None:
        try:
            job()
        except BaseException as error:  # reported by the test with the seed
            soak.failures.append(f"{type(error).__name__}: {error}")
            soak.stop.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_soak_with_three_instances_killed_at_random(
    postgres_database: Callable[[], dict[str, str]], s3_bucket: Callable[[], dict[str, str]], tmp_path: Path
) -> None:
    env = {**postgres_database(), **s3_bucket()}
    servers = [DockyardServer(tmp_path / f"instance-{number}", env=env) for number in range(INSTANCES)]
    ledger = Ledger()
    soak = Soak(deadline=0.0)
    try:
        for server in servers:
            server.start(timeout=120)
        soak.deadline = time.monotonic() + SECONDS
        urls = [server.url for server in servers]
        command_env = {**env, "DOCKYARD_DATA_DIR": str(tmp_path / "commands")}
        clients = [in_thread(lambda n=n: client_work(n, urls, ledger, soak), soak) for n in range(CLIENTS)]
        helpers = [
            in_thread(lambda: kill_and_restart(servers, ledger, soak), soak),
            in_thread(lambda: collect_garbage(command_env, soak), soak),
        ]
        for thread in clients:
            thread.join(SECONDS + PROGRESS_TIMEOUT)
        soak.stop.set()
        for thread in helpers:
            thread.join(PROGRESS_TIMEOUT)
        summary = (
            f"seed {SEED}: {ledger.acknowledged} acknowledged, {soak.kills} kills, {soak.gc_runs} gc runs, "
            f"faults met: {dict(ledger.faults)}"
        )
        assert not soak.failures, f"{summary}; {soak.failures}"
        assert soak.kills >= 1, summary
        assert soak.gc_runs >= 1, summary

        for server in servers:  # the instance killed last may still be down
            if server.proc is None or server.proc.poll() is not None:
                server.start(timeout=120)
        assert dockyard(command_env, "gc", "--now").returncode == 0, summary
        verify(servers[0].url, ledger)
        checked = dockyard(command_env, "fsck")
        assert checked.returncode == 0, f"{summary}: {checked.stdout}{checked.stderr}"
        assert " 0 problems" in checked.stdout, summary
    finally:
        soak.stop.set()
        for server in servers:
            server.kill()
    for server in servers:
        assert "Traceback" not in server.log(), server.log()[-5000:]

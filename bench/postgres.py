"""A throwaway PostgreSQL cluster for the tests and the benchmark, in the manner of
shared/reference/services/start-postgres.sh: initdb into a temporary directory, listening on
127.0.0.1 on a free port, fsync off; run as the `postgres` user when the tests run as root (the
server refuses root), so the directory must be one that user can enter."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from bench.procs import free_port

_USER = "dockyard"


def _server_binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found; run .ci/install-postgres.sh")
    return found[-1].parent


class PostgresCluster:
    def __init__(self) -> None:
        self.bin = _server_binaries()
        # Not under pytest's tmp_path: its parents are private to us, and postgres must get in.
        self.root = Path(tempfile.mkdtemp(prefix="dockyard-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "pgdata"
        self._log = self.root / "postgres.log"
        self.port = free_port()
        self.password = secrets.token_hex(8)
        self._databases = 0

    def _as_server_user(self, *command: str | Path) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *map(str, command)], check=True, capture_output=True)

    def start(self) -> PostgresCluster:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        password_file = self.root / "password"
        password_file.write_text(self.password + "\n")
        password_file.chmod(0o644)
        self._as_server_user(
            self.bin / "initdb", "-D", self.data, "-U", _USER, f"--pwfile={password_file}",
            "-A", "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        password_file.unlink()
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.root}'\n"
                "max_connections = 400\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        self._as_server_user(self.bin / "pg_ctl", "-D", self.data, "-l", self._log, "-w", "-t", "60", "start")
        return self

    def restart(self) -> None:
        """A fast restart: the server closes every client connection."""
        # With -l: a server left with our captured output would keep the pipe open for ever.
        self._as_server_user(self.bin / "pg_ctl", "-D", self.data, "-l", self._log, "-m", "fast", "-w", "restart")

    def url(self, database: str) -> str:
        return f"postgresql://{_USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        self._databases += 1
        name = f"dockyard_{self._databases}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_server_user(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

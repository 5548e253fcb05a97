"""The access log: JSON lines field by field, text lines, request ids end to end, no secrets,
probes left out, and the file reopened on SIGHUP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.ops.conftest import StartServer, wait_for
from tests.support.server import DockyardServer

SECRET = "hunter2-very-secret"


def json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def lines_with(path: Path, request_id: str) -> list[dict[str, Any]]:
    return [entry for entry in json_lines(path) if entry["request_id"] == request_id]


def test_json_lines_carry_every_field(start_server: StartServer, tmp_path: Path) -> None:
    access = tmp_path / "access.log"
    server = start_server(DOCKYARD_LOG_FORMAT="json", DOCKYARD_ACCESS_LOG_FILE=str(access))
    response = httpx.get(
        server.url + f"/v2/?token={SECRET}",
        headers={"X-Request-Id": "client-id-1", "User-Agent": 'probe "quoted"\tagent', "Authorization": SECRET},
    )
    assert response.headers["x-request-id"] == "client-id-1"
    wait_for(lambda: lines_with(access, "client-id-1"), "the access line")
    [entry] = lines_with(access, "client-id-1")
    assert set(entry) == {
        "time", "level", "request_id", "method", "path", "status", "bytes", "duration_ms", "client", "user_agent"
    }  # fmt: skip
    assert entry["level"] == "info"
    assert entry["method"] == "GET"
    assert entry["path"] == "/v2/"  # the query string is never logged
    assert entry["status"] == 200
    assert entry["bytes"] == len(response.content)
    assert isinstance(entry["duration_ms"], float)
    assert entry["duration_ms"] >= 0
    assert entry["client"].startswith("127.0.0.1:")
    assert entry["user_agent"] == 'probe "quoted"\tagent'
    assert entry["time"].endswith("Z")
    assert "user" not in entry  # anonymous
    server.stop()
    assert SECRET not in access.read_text()
    assert SECRET not in server.log()


def test_request_ids_are_generated_unique_and_echoed(start_server: StartServer, tmp_path: Path) -> None:
    access = tmp_path / "access.log"
    server = start_server(DOCKYARD_LOG_FORMAT="json", DOCKYARD_ACCESS_LOG_FILE=str(access))
    with httpx.Client(base_url=server.url) as http:
        generated = [http.get("/v2/nope/manifests/latest").headers["x-request-id"] for _ in range(20)]
        # Ids a client sends are checked: too long or with odd characters, they are replaced.
        too_long = http.get("/v2/", headers={"X-Request-Id": "a" * 129}).headers["x-request-id"]
        odd = http.get("/v2/", headers={"X-Request-Id": 'x y"z'}).headers["x-request-id"]
    assert len(set(generated)) == 20
    assert too_long != "a" * 129
    assert odd != 'x y"z'
    wait_for(lambda: all(lines_with(access, rid) for rid in [*generated, too_long, odd]), "all access lines")
    for rid in generated:
        [entry] = lines_with(access, rid)
        assert entry["status"] == 404
        assert entry["path"] == "/v2/nope/manifests/latest"


def test_text_lines_and_probes_left_out(start_server: StartServer, tmp_path: Path) -> None:
    access = tmp_path / "access.log"
    server = start_server(DOCKYARD_ACCESS_LOG_FILE=str(access))
    assert httpx.get(server.url + "/healthz").status_code == 200
    assert httpx.get(server.url + "/readyz").status_code == 200
    rid = httpx.get(server.url + "/v2/", headers={"User-Agent": 'agent "quoted"\tx'}).headers["x-request-id"]
    wait_for(lambda: access.exists() and rid in access.read_text(), "the access line")
    text = access.read_text()
    assert "/healthz" not in text
    assert "/readyz" not in text
    [line] = [line for line in text.splitlines() if rid in line]
    assert '"GET /v2/" 200 2 ' in line
    assert line.endswith(f' {rid} "agent \\"quoted\\"\\tx"')  # escaped: no field can be forged


def test_the_file_is_reopened_after_logrotate(start_server: StartServer, tmp_path: Path) -> None:
    access = tmp_path / "access.log"
    server = start_server(DOCKYARD_LOG_FORMAT="json", DOCKYARD_ACCESS_LOG_FILE=str(access))
    first = httpx.get(server.url + "/v2/").headers["x-request-id"]
    wait_for(lambda: lines_with(access, first), "the first line")
    rotated = tmp_path / "access.log.1"
    os.rename(access, rotated)
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGHUP)

    issued: list[str] = []

    def logged_in_new_file() -> bool:
        with contextlib.suppress(httpx.TransportError):  # the workers are being respawned
            issued.append(httpx.get(server.url + "/v2/", timeout=2).headers["x-request-id"])
        logged = {entry["request_id"] for entry in json_lines(access)}
        return bool(logged.intersection(issued))

    wait_for(logged_in_new_file, "a line in the reopened file")
    assert lines_with(rotated, first)


def test_an_unwritable_access_log_stops_start_up(tmp_path: Path) -> None:
    server = DockyardServer(tmp_path / "data", env={"DOCKYARD_ACCESS_LOG_FILE": str(tmp_path / "no-dir" / "a.log")})
    with pytest.raises(RuntimeError, match=r"cannot write the access log: .*No such file or directory"):
        server.start()

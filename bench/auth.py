"""What authentication costs dockyard: manifest GET with no auth, with Basic credentials and with a
bearer token, side by side, and the token endpoint's rate for cached credentials.

    python -m bench.auth [--rounds 3] [--duration 10] [--connections 64] [--smoke]

Three one-worker dockyards start with the same seeded manifest: one without auth, one with
`auth.htpasswd` (Basic mode), one with `auth.token.enabled` (token mode). Each round, in an order
rotated from round to round, wrk GETs the manifest from each with the credentials it needs (the
Basic header, or a pull token fetched from /auth/token); then wrk GETs /auth/token itself from
the token-mode server with Basic credentials (the first request puts them in the credential
cache). Server CPU per request comes from /proc like bench.run's. Results go to
`bench/results/<date>-<machine>-auth.{md,json}`. See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import oci
from bench.http import Conn
from bench.procs import Registry, start_dockyard
from bench.report import write_results
from bench.run import log, machine, machine_busy_seconds, machine_slug, version_of
from bench.workloads import Metrics, _with_server_cpu, run_wrk, wrk_script

VARIANTS = ("none", "basic", "bearer")
REPO, TAG, SERVICE, USER = "bench/manifest", "latest", "dockyard", "bench"
FIGURES = ("rps", "p50_ms", "p99_ms", "server_cpu_us_per_req")


class AuthVariant:
    """One dockyard, seeded without auth, then restarted with its variant's auth settings."""

    def __init__(self, name: str, work: Path, password: str) -> None:
        self.name = name
        self.work = work / name
        self.password = password
        self.reg: Registry | None = None

    def start(self) -> Registry:
        seeding = start_dockyard(self.name, self.work, 1)
        try:
            with Conn(*seeding.host_port) as conn:
                config = oci.config_blob("bench-auth")
                layer = oci.Blob.of(b"bench auth layer " + os.urandom(1024))
                oci.ensure_blob(conn, REPO, config)
                oci.ensure_blob(conn, REPO, layer)
                oci.put_manifest(conn, REPO, TAG, oci.image_manifest(config, [layer]))
        finally:
            seeding.stop()
        self.reg = start_dockyard(self.name, self.work, 1, env=self._auth_env())
        return self.reg

    def _auth_env(self) -> dict[str, str]:
        if self.name == "none":
            return {}
        htpasswd, config = self.work / "htpasswd", self.work / "dockyard.yaml"
        token = {"enabled": True, "service": SERVICE, "expiry_seconds": 3600} if self.name == "bearer" else {}
        config.write_text(json.dumps({"auth": {"htpasswd": str(htpasswd), "token": token}}))
        subprocess.run(
            [sys.executable, "-m", "dockyard", "user", "--config", str(config), "add", USER, "--password-stdin"],
            input=self.password + "\n", text=True, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return {"DOCKYARD_CONFIG": str(config)}

    @property
    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{USER}:{self.password}".encode()).decode()

    def headers(self) -> dict[str, str]:
        """What an authorized client sends with each manifest GET."""
        if self.name == "none":
            return {}
        if self.name == "basic":
            return {"Authorization": self.basic}
        return {"Authorization": f"Bearer {self.token()}"}

    def token_path(self) -> str:
        return f"/auth/token?service={SERVICE}&scope=repository:{REPO}:pull"

    def token(self) -> str:
        assert self.reg is not None
        with Conn(*self.reg.host_port) as conn:
            resp = conn.request("GET", self.token_path(), headers={"Authorization": self.basic})
        if resp.status != 200:
            raise RuntimeError(f"token endpoint answered {resp.status}: {resp.body[:300]!r}")
        token: str = json.loads(resp.body)["token"]
        return token


def measure(reg: Registry, path: str, headers: dict[str, str], args: argparse.Namespace, work: Path) -> Metrics:
    """wrk on `path` with `headers`, after one request that puts the credentials in the server's cache
    (the steady state of an authorized client: bcrypt is paid once per credential, not per request)."""
    with Conn(*reg.host_port) as conn:
        warm = conn.request("GET", path, headers={"Accept": oci.ACCEPT, **headers})
    if warm.status != 200:
        raise RuntimeError(f"{reg.name}: GET {path} answered {warm.status}: {warm.body[:300]!r}")
    script = wrk_script(work / "auth.lua", "GET", oci.ACCEPT, headers)
    out = _with_server_cpu(reg, lambda: run_wrk(reg.url + path, args.connections, args.duration, script), "requests")
    if out["errors"] or not out["requests"]:
        raise RuntimeError(f"{reg.name}: {out['errors']} failed requests ({out['non_2xx']} non-2xx) on {path}")
    return out


def run_round(variants: dict[str, AuthVariant], rnd: int, args: argparse.Namespace, work: Path) -> dict[str, Metrics]:
    results: dict[str, Metrics] = {}
    shift = (rnd - 1) % len(VARIANTS)
    for name in VARIANTS[shift:] + VARIANTS[:shift]:
        variant = variants[name]
        assert variant.reg is not None
        results[name] = measure(variant.reg, f"/v2/{REPO}/manifests/{TAG}", variant.headers(), args, work)
        log(f"round {rnd}: manifest GET, {name}: " + brief(results[name]))
        time.sleep(0.3)
    bearer = variants["bearer"]
    assert bearer.reg is not None
    results["token_endpoint"] = measure(bearer.reg, bearer.token_path(), {"Authorization": bearer.basic}, args, work)
    log(f"round {rnd}: token endpoint: " + brief(results["token_endpoint"]))
    return results


def brief(m: Metrics) -> str:
    return ", ".join(f"{k}={v:.1f}" for k in FIGURES if isinstance(v := m.get(k), int | float))


def summarize(rounds: list[dict[str, Metrics]]) -> dict[str, dict[str, list[float]]]:
    """figure -> row -> [median, min, max] over rounds; plus the CPU added by auth within each round."""
    rows: dict[str, dict[str, list[float]]] = {}
    for row in (*VARIANTS, "token_endpoint"):
        rows[row] = {k: spread([float(r[row][k]) for r in rounds if isinstance(r[row].get(k), int | float)])
                     for k in FIGURES}  # fmt: skip
    for row in ("basic", "bearer"):
        added = [cpu_per_request(r[row]) - cpu_per_request(r["none"]) for r in rounds]
        rows[row]["added_cpu_us_per_req"] = spread(added)
    return rows


def cpu_per_request(m: Metrics) -> float:
    value = m.get("server_cpu_us_per_req")
    if not isinstance(value, int | float):
        raise RuntimeError("server CPU not measured: is the server process visible in /proc?")
    return float(value)


def spread(values: list[float]) -> list[float]:
    return [statistics.median(values), min(values), max(values)] if values else []


def cell(values: list[float] | None) -> str:
    if not values:
        return "-"
    med, lo, hi = values
    return f"{med:.1f} [{lo:.1f}-{hi:.1f}]" if len(set(values)) > 1 else f"{med:.1f}"


def markdown(data: dict[str, Any]) -> str:
    meta, rows = data["meta"], data["summary"]
    lines = [
        f"# dockyard auth cost, {meta['date']}",
        "",
        f"`{meta['command']}`, {meta['dockyard']}, on {meta['machine']}; "
        f"{meta['rounds']} round(s) of {meta['duration']} s per row, "
        f"{meta['connections']} connections, one worker each. Machine busy: {meta['busy_cores']:.2f} cores on "
        f"average over the run (load average {meta['loadavg_start']:.2f} -> {meta['loadavg_end']:.2f}); the "
        "machine is shared, so read rates as lower bounds and compare the CPU per request.",
        "",
        "Median over rounds, [min-max].",
        "",
        "| manifest GET | req/s | p50 ms | p99 ms | server CPU us/req | added by auth, us/req |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in VARIANTS:
        r = rows[row]
        lines.append(
            f"| {row} | {cell(r['rps'])} | {cell(r['p50_ms'])} | {cell(r['p99_ms'])} | "
            f"{cell(r['server_cpu_us_per_req'])} | {cell(r.get('added_cpu_us_per_req'))} |"
        )
    t = rows["token_endpoint"]
    lines += [
        "",
        "| token endpoint (GET /auth/token, cached Basic credentials, one worker) | tokens/s | p99 ms | "
        "server CPU us/token |",
        "| --- | --- | --- | --- |",
        f"| pull scope on one repository | {cell(t['rps'])} | {cell(t['p99_ms'])} | "
        f"{cell(t['server_cpu_us_per_req'])} |",
        "",
        "Targets (issue 8): auth adds <= 10 us server CPU per manifest GET; >= 2,000 tokens/s on one worker.",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.auth", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load per row and round")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--smoke", action="store_true", help="one round of one second, 8 connections")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    p.add_argument("--name", default="", help="results file stem (default <date>-<machine>-auth)")
    args = p.parse_args(argv)
    if args.smoke:
        args.rounds, args.duration, args.connections = 1, 1.0, 8
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: run bench/install.sh")
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-auth-"))
    started = dt.datetime.now(dt.UTC)
    password = secrets.token_urlsafe(12)
    variants = {name: AuthVariant(name, work, password) for name in VARIANTS}
    try:
        for variant in variants.values():
            log(f"{variant.name}: dockyard at {variant.start().url}")
        version = version_of(variants["none"].reg) if variants["none"].reg else ""
        busy0, wall0, load0 = machine_busy_seconds(), time.monotonic(), os.getloadavg()[0]
        rounds = [run_round(variants, rnd, args, work) for rnd in range(1, args.rounds + 1)]
        busy = (machine_busy_seconds() - busy0) / (time.monotonic() - wall0)
    finally:
        for variant in variants.values():
            if variant.reg is not None:
                variant.reg.stop()
        shutil.rmtree(work, ignore_errors=True)
    data = {
        "meta": {
            "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "dockyard": version,
            "command": "python -m bench.auth " + shlex.join(argv if argv is not None else sys.argv[1:]),
            "rounds": args.rounds,
            "duration": args.duration,
            "connections": args.connections,
            "busy_cores": busy,
            "loadavg_start": load0,
            "loadavg_end": os.getloadavg()[0],
        },
        "rounds": rounds,
        "summary": summarize(rounds),
    }
    stem = args.name or f"{started.strftime('%Y-%m-%d-%H%M')}-{machine_slug()}-auth"
    log(f"wrote {write_results(args.out, stem, data, markdown(data))}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

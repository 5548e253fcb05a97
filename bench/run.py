"""dockyard benchmark harness: dockyard and a peer registry, same workloads, interleaved rounds.

    python -m bench.run [--rounds 3] [--smoke] [--peer distribution|URL] [--dockyard dockyard|URL|...]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import floor, oci, report, workloads
from bench.http import Conn
from bench.postgres import PostgresCluster
from bench.procs import DISTRIBUTION_BIN, Registry, attach_url, start_distribution, start_dockyard, start_floor
from bench.profile import Profiler
from bench.workloads import BigData, Metrics, Seeded, Sizes

Json = dict[str, Any]

# workload name -> does the extra (multi-worker) dockyard take part
WORKLOADS: dict[str, bool] = {
    "manifest_get_tag": True,
    "manifest_head_digest": True,
    "blob_get_1": False,
    "blob_get_8": False,
    "push_monolithic": False,
    "push_patch": False,
    "small_images": False,
    "mixed": True,
    "listing": False,
}
# workload name -> which floor server (bench/floor.py) it runs against
FLOOR_WORKLOADS = {
    "manifest_get_tag": "manifest",
    "manifest_head_digest": "manifest",
    "push_monolithic": "receiver",
    "push_patch": "receiver",
}
FLOOR = "floor"
# Headers granian adds to every answer by itself, and the one it computes from the body.
_SERVER_HEADERS = frozenset({"date", "server"})


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return f"{os.cpu_count()} cores, {model}, {mem_gib:.0f} GiB, Linux {platform.release()}"


def machine_busy_seconds() -> float:
    """Non-idle CPU seconds of the whole machine since boot (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def machine_slug() -> str:
    desc = machine().split(",")
    slug = f"{os.cpu_count()}c-" + desc[1].strip().lower()
    return re.sub(r"[^a-z0-9]+", "-", slug).strip("-")[:40]


def start(name: str, spec: str, work: Path, access_log: bool, database: Callable[[], str]) -> Registry:
    """spec: distribution | dockyard[:N][+pg] (N workers; +pg: metadata in PostgreSQL, in a database
    `database` makes and names by URL) | an http URL; a `+log` or `-log` suffix turns that registry's
    access log on or off whatever --access-log says, so both settings can be measured side by side
    (e.g. --peer dockyard:1-log --dockyard dockyard:1+log)."""
    if spec.startswith(("http://", "https://")):
        return attach_url(name, spec)
    if spec.endswith(("+log", "-log")):
        spec, access_log = spec[:-4], spec.endswith("+log")
    if spec == "distribution":
        reg = start_distribution(name, work / name, access_log)
        reg.notes.append(f"filesystem storage, delete enabled, access log {'on' if access_log else 'off'}")
        return reg
    base, postgres, rest = spec.partition("+pg")
    if (base == "dockyard" or base.startswith("dockyard:")) and not rest:
        workers = int(base.split(":", 1)[1]) if ":" in base else None
        env = {"DOCKYARD_DATABASE__URL": database()} if postgres else {}
        reg = start_dockyard(name, work / name, workers, access_log, env=env)
        reg.notes.append(f"access log {'on' if access_log else 'off'}")
        reg.notes.append("metadata in PostgreSQL 15 (local, fsync off)" if postgres else "metadata in SQLite")
        return reg
    raise SystemExit(f"unknown registry spec {spec!r}: use distribution, dockyard[:N][+pg] or a URL")


def event_loop_of(reg: Registry) -> str:
    """Which event loop the server's Python processes run, seen from the libraries they mapped."""
    for pid in reg.pids():
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        if "/uvloop/" in maps:
            return "uvloop"
    return "asyncio" if reg.kind == "dockyard" else ""


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    out = {}
    for name in ("dockyard", "granian", "uvloop"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def version_of(reg: Registry) -> str:
    if reg.kind == "distribution":
        try:
            out = subprocess.run(
                [DISTRIBUTION_BIN, "--version"], capture_output=True, text=True, timeout=10, check=False
            )
            return out.stdout.strip().split()[-1]
        except (OSError, subprocess.SubprocessError, IndexError):
            return ""
    if reg.kind == "dockyard":
        try:
            from importlib.metadata import version  # noqa: PLC0415

            git = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
                cwd=Path(__file__).parent,
            )
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--", "src"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
                cwd=Path(__file__).parent,
            ).stdout.strip()
            return f"dockyard {version('dockyard')} at {git.stdout.strip()}" + (" with local changes" if dirty else "")
        except Exception:
            return "dockyard"
    if reg.kind == "floor":
        return "static RSGI app on granian" if reg.name.endswith("manifest") else "raw socket receiver"
    return ""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 3; 1 with --smoke)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes and short runs: seconds, for CI")
    p.add_argument("--duration", type=float, default=None, help="seconds of each manifest and mixed load")
    p.add_argument(
        "--peer",
        default="distribution",
        help="distribution or dockyard[:N] (started here), or a registry URL; a +log/-log suffix sets its access log",
    )
    p.add_argument("--peer-url", dest="peer", help="same as --peer URL")
    p.add_argument(
        "--dockyard",
        default="dockyard:1",
        help="dockyard[:N][+pg] (started here with N workers; +pg: metadata in a PostgreSQL cluster started "
        "here), distribution, or a registry URL; --peer takes the same, e.g. --peer dockyard:1 "
        "--dockyard dockyard:1+pg compares the metadata backends",
    )
    p.add_argument("--dockyard-url", dest="dockyard", help="same as --dockyard URL")
    p.add_argument(
        "--dockyard-2w",
        default=None,
        help="the second dockyard for the manifest and mixed workloads (default dockyard:2 when "
        "dockyard is started here, else none); 'none' to skip",
    )
    p.add_argument(
        "--access-log",
        action="store_true",
        help="registries started here log every request (default: access logs off on both sides)",
    )
    p.add_argument(
        "--head-tool",
        choices=["ab", "hey"],
        default="ab",
        help="load tool for HEAD by digest (wrk cannot do HEAD): ab (default: one thread, lean) or hey",
    )
    p.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the floor (bench/floor.py) in each round of the manifest and push workloads "
        "(default: on; needs dockyard's manifest, so the dockyard under test is asked for it)",
    )
    p.add_argument(
        "--extra-rounds",
        type=int,
        default=0,
        help="add up to this many rounds, one at a time, while a floor ratio's min-max spread exceeds "
        "--max-spread of its median (noise from other work on the machine)",
    )
    p.add_argument("--max-spread", type=float, default=0.2, help="see --extra-rounds (default 0.2)")
    p.add_argument("--blob-mib", type=int, default=None, help="size of the big blob in MiB (default 512)")
    p.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(WORKLOADS)}")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="results directory")
    p.add_argument("--name", default="", help="results file name stem (default <date>-<machine>[-smoke])")
    p.add_argument("--work-dir", type=Path, default=None, help="where registries keep data (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the work dir (data, logs) afterwards")
    p.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="profile dockyard processes started here with py-spy during each workload into DIR "
        "(slows them: do not read the figures of such a run as results)",
    )
    return p.parse_args(argv)


class Runner:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.sizes = Sizes.smoke() if args.smoke else Sizes()
        if args.duration:
            self.sizes.duration = args.duration
        if args.blob_mib:
            self.sizes.big_blob = args.blob_mib << 20
        self.failures: list[Json] = []
        self.regs: dict[str, Registry] = {}
        self.seeded: dict[str, Seeded] = {}
        self.peer = "peer"
        self.main = "dockyard"
        self.extra: list[str] = []
        self.profiler = Profiler(args.py_spy) if args.py_spy else None
        self.postgres: PostgresCluster | None = None
        self.floor: dict[str, Registry] = {}

    def database(self) -> str:
        """A fresh database in the PostgreSQL cluster of this run, started on first use."""
        if self.postgres is None:
            log("starting a PostgreSQL cluster")
            self.postgres = PostgresCluster().start()
        return self.postgres.create_database()

    def setup(self) -> None:
        a = self.args
        two = a.dockyard_2w
        if two is None:
            same_metadata = "+pg" if a.dockyard.endswith("+pg") else ""
            two = "dockyard:2" + same_metadata if a.dockyard.startswith("dockyard") else "none"
        self.regs[self.peer] = start(self.peer, a.peer, self.work, a.access_log, self.database)
        log(f"peer at {self.regs[self.peer].url}")
        self.regs[self.main] = start(self.main, a.dockyard, self.work, a.access_log, self.database)
        log(f"dockyard at {self.regs[self.main].url}")
        if two != "none":
            name = "dockyard-2w"
            self.regs[name] = start(name, two, self.work, a.access_log, self.database)
            self.extra.append(name)
            log(f"{name} at {self.regs[name].url}")
        log(f"generating a {self.sizes.big_blob >> 20} MiB random blob")
        self.big = BigData(self.sizes.big_blob)
        self.small_base = os.urandom(self.sizes.small_layer)
        log("seeding")
        for name, reg in self.regs.items():
            full = name not in self.extra and "listing" in self.selected()  # tags and repositories: for listing
            self.seeded[name] = workloads.seed(reg, self.sizes, self.big, full=full, log=log)
        if self.args.floor and any(w in FLOOR_WORKLOADS for w in self.selected()):
            self.start_floor()

    def start_floor(self) -> None:
        """The floor answers with the very manifest bytes and headers dockyard sends."""
        seeded = self.seeded[self.main]
        with Conn(*self.regs[self.main].host_port) as conn:
            get = oci.get_manifest(conn, seeded.manifest_repo, seeded.manifest_tag)
            head = conn.request("HEAD", f"/v2/{seeded.manifest_repo}/manifests/{seeded.manifest_digest}")
        get_headers = {k: v for k, v in get.headers.items() if k not in _SERVER_HEADERS | {"content-length"}}
        head_headers = {k: v for k, v in head.headers.items() if k not in _SERVER_HEADERS}
        response = self.work / "floor-response.json"
        floor.write_response(response, get.body, get_headers, head_headers)
        manifest, receiver = start_floor(self.work / FLOOR, response)
        self.floor = {"manifest": manifest, "receiver": receiver}
        self.seeded[FLOOR] = seeded
        log(f"floor at {manifest.url} (manifest) and {receiver.url} (receiver)")

    def registry(self, name: str, workload: str) -> Registry:
        return self.floor[FLOOR_WORKLOADS[workload]] if name == FLOOR else self.regs[name]

    def stop(self) -> None:
        for reg in [*self.regs.values(), *self.floor.values()]:
            reg.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def selected(self) -> list[str]:
        if not self.args.only:
            return list(WORKLOADS)
        chosen = [w.strip() for w in self.args.only.split(",") if w.strip()]
        unknown = [w for w in chosen if w not in WORKLOADS]
        if unknown:
            raise SystemExit(f"unknown workloads {unknown}: choose from {list(WORKLOADS)}")
        return chosen

    def _guard(self, rnd: int, workload: str, reg: str, fn: Callable[[], dict[str, Metrics]]) -> dict[str, Metrics]:
        t0 = time.monotonic()
        r = self.registry(reg, workload)
        try:
            if self.profiler and r.kind == "dockyard":
                with self.profiler.record(r, f"{workload}-{reg}-r{rnd}"):
                    out = fn()
            else:
                out = fn()
        except Exception as exc:
            msg = f"{type(exc).__name__}: {exc}"
            log(f"  FAILED {workload} on {reg}: {msg}")
            if not r.alive():
                msg += f" (server exited: {r.log_tail(10)})"
            self.failures.append(
                {
                    "round": rnd,
                    "workload": workload,
                    "registry": reg,
                    "error": msg,
                    "trace": traceback.format_exc(),
                }
            )
            return {}
        log(f"  {workload} on {reg}: {time.monotonic() - t0:.1f}s " + _brief(out))
        return out

    def run_round(self, rnd: int) -> Json:
        results: dict[str, dict[str, Metrics]] = {}
        busy0, wall0, load0 = machine_busy_seconds(), time.monotonic(), os.getloadavg()[0]
        lim = workloads.limits(self.sizes)
        results["limits"] = {"harness": lim}
        log(f"round {rnd}: sha256 {lim['sha256_mb_s_one_core']:.0f} MB/s, loopback {lim['loopback_tcp_mb_s']:.0f} MB/s")
        names = list(self.regs) + ([FLOOR] if self.floor else [])
        shift = (rnd - 1) % len(names)
        order = names[shift:] + names[:shift]
        for workload in self.selected():
            for reg in order:
                if reg in self.extra and not WORKLOADS[workload]:
                    continue
                if reg == FLOOR and workload not in FLOOR_WORKLOADS:
                    continue
                out = self._guard(rnd, workload, reg, lambda w=workload, r=reg: self.one(w, r, rnd))
                for sub, metrics in out.items():
                    results.setdefault(sub, {})[reg] = metrics
                time.sleep(0.3)
        busy = (machine_busy_seconds() - busy0) / (time.monotonic() - wall0)
        # the noise floor: how busy the whole machine was (harness and registries included)
        results["machine"] = {
            "harness": {"busy_cores": busy, "loadavg_start": load0, "loadavg_end": os.getloadavg()[0]}
        }
        return {"round": rnd, "order": order, "results": results}

    def one(self, workload: str, name: str, rnd: int) -> dict[str, Metrics]:
        reg, s, sizes, work = self.registry(name, workload), self.seeded[name], self.sizes, self.work
        if workload == "manifest_get_tag":
            return {workload: workloads.manifest_get(reg, s, sizes, work)}
        if workload == "manifest_head_digest":
            return {workload: workloads.manifest_head(reg, s, sizes, work, self.args.head_tool)}
        if workload == "blob_get_1":
            return {workload: workloads.blob_get(reg, s, sizes, sizes.single_streams)}
        if workload == "blob_get_8":
            return {workload: workloads.blob_get(reg, s, sizes, sizes.parallel_streams)}
        if workload in ("push_monolithic", "push_patch"):
            mode = workload.removeprefix("push_")
            return {workload: workloads.blob_push(reg, self.big, f"{name}-{workload}-{rnd}", mode)}
        if workload == "small_images":
            images = workloads.make_small_images(sizes, f"{name}-r{rnd}", self.small_base)
            push, pull = workloads.small_images(reg, sizes, images)
            return {"small_push": push, "small_pull": pull}
        if workload == "mixed":
            return {workload: workloads.mixed(reg, s, sizes, work)}
        if workload == "listing":
            return dict(workloads.listing(reg, s, sizes).items())
        raise ValueError(workload)


def _brief(out: dict[str, Metrics]) -> str:
    keys = (
        "rps",
        "mb_s",
        "images_s",
        "p50_ms",
        "p99_ms",
        "server_cpu_us_per_req",
        "download_mb_s",
        "manifest_p99_ms",
        "peak_rss_growth_mb",
    )
    parts = []
    for sub, m in out.items():
        shown = ", ".join(f"{k}={report.fmt(v)}" for k in keys if isinstance(v := m.get(k), int | float))
        parts.append(f"{sub}[{shown}]" if len(out) > 1 else shown)
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rounds = args.rounds or (1 if args.smoke else 3)
    for tool in ("wrk", args.head_tool):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: run bench/install.sh")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    runner = Runner(args, work)
    started = dt.datetime.now(dt.UTC)
    data: Json = {}
    try:
        try:
            runner.setup()
        except Exception as exc:
            log(f"setup failed: {type(exc).__name__}: {exc}")
            traceback.print_exc()
            return 2
        others = [runner.main, *runner.extra]
        floor_name = FLOOR if runner.floor else None
        all_rounds = [runner.run_round(rnd) for rnd in range(1, rounds + 1)]
        for _ in range(args.extra_rounds):
            summary = report.summarize(all_rounds, runner.peer, others, floor_name)
            noisy = report.noisy_floor_ratios(summary, runner.main, args.max_spread)
            if not noisy:
                break
            log(f"noisy floor ratios ({', '.join(noisy)}): one more round")
            all_rounds.append(runner.run_round(len(all_rounds) + 1))
        summary = report.summarize(all_rounds, runner.peer, others, floor_name)
        data = {
            "meta": {
                "date": started.strftime("%Y-%m-%d %H:%M UTC"),
                "machine": machine(),
                "python": sys.version.split()[0],
                "packages": package_versions(),
                "smoke": args.smoke,
                "rounds": len(all_rounds),
                "command": "python -m bench.run " + shlex.join(argv if argv is not None else sys.argv[1:]),
                "peer": runner.peer,
                "dockyard": runner.main,
                "extra": runner.extra,
                "floor": floor_name,
                "sizes": vars(runner.sizes),
                "seconds": (dt.datetime.now(dt.UTC) - started).total_seconds(),
            },
            "registries": {
                r.name: {
                    "url": r.url,
                    "kind": r.kind,
                    "workers": r.workers,
                    "version": version_of(r),
                    "event_loop": event_loop_of(r),
                    "notes": r.notes,
                }
                for r in [*runner.regs.values(), *runner.floor.values()]
            },
            "rounds": all_rounds,
            "summary": summary,
            "targets": report.judge(summary, runner.main, floor_name),
            "failures": runner.failures,
            "notes": [
                "MB = 10^6 bytes, GB = 10^9 bytes. Server CPU = utime+stime of the server process tree from "
                "/proc, over the measuring window.",
                "Latency targets are judged on the median of the per-round p50.",
            ],
        }
    finally:
        log("stopping the registries and cleaning up")
        runner.stop()
        if runner.profiler:
            runner.profiler.summarize()
        if not args.keep and args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
        elif args.keep:
            log(f"work dir kept: {work}")
    stem = args.name or (started.strftime("%Y-%m-%d-%H%M") + "-" + machine_slug() + ("-smoke" if args.smoke else ""))
    written = report.write_results(args.out, stem, data, report.markdown(data))
    log(f"wrote {written}.md and .json ({data['meta']['seconds']:.0f}s)")
    if runner.failures:
        log(f"{len(runner.failures)} workload(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

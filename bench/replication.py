"""Replication against `skopeo sync`: copy 1,000 small images from a dockyard into an empty
Distribution 2.8.2 with a push rule (`dockyard replicate run`) and with skopeo, then re-run the rule
on the unchanged target.

    .venv/bin/python -m bench.replication [--repositories 50] [--tags 20] [--rounds 2]

Each round copies into fresh, empty Distributions (one per tool, the order alternating), timing the
whole command as an operator would see it (process start included). The re-run must send no blob
bytes. Results go to bench/results/<date>-replication.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bench.procs import Registry, start_distribution, start_dockyard
from dockyard.core.digest import Digest
from dockyard.remote import RemoteClient, RemoteSettings

RESULTS = Path(__file__).parent / "results"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass
class Round:
    tool: str
    seconds: float
    images: int
    note: str


async def _once(data: bytes):  # type: ignore[no-untyped-def]
    yield data


async def populate(url: str, repositories: int, tags: int) -> None:
    """Small images, each with its own config and a 2 KiB layer of its own."""
    async with RemoteClient(RemoteSettings(url, max_connections=32)) as client:

        async def one(repo: int, tag: int) -> None:
            name = f"bench/r{repo:03d}"
            config = json.dumps({"architecture": "amd64", "os": "linux", "image": [repo, tag]}).encode()
            layer = (f"layer {repo} {tag} ".encode() * 200)[:2048]
            descriptors = []
            for data, kind in (
                (config, "application/vnd.oci.image.config.v1+json"),
                (layer, "application/vnd.oci.image.layer.v1.tar"),
            ):
                digest = Digest.of(data)
                await client.upload_blob(name, digest, len(data), lambda _, d=data: _once(d))
                descriptors.append({"mediaType": kind, "digest": str(digest), "size": len(data)})
            body = json.dumps(
                {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptors[0], "layers": descriptors[1:]}
            ).encode()
            await client.put_manifest(name, f"v{tag}", OCI_MANIFEST, body)

        gate = asyncio.Semaphore(16)

        async def gated(repo: int, tag: int) -> None:
            async with gate:
                await one(repo, tag)

        await asyncio.gather(*(gated(r, t) for r in range(repositories) for t in range(tags)))


def host(url: str) -> str:
    return url.removeprefix("http://")


def run_rule(config: Path) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dockyard", "replicate", "run", "bench", "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DOCKYARD_LOG_LEVEL": "warning"},
    )
    return time.monotonic() - started, done.stdout.strip()


def run_skopeo(source: str, target: str, repositories: int, work: Path) -> float:
    spec = {
        host(source): {
            "tls-verify": False,
            "images-by-tag-regex": {f"bench/r{r:03d}": ".*" for r in range(repositories)},
        }
    }
    spec_file = work / "skopeo.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    started = time.monotonic()
    subprocess.run(
        [
            "skopeo",
            "sync",
            "--src",
            "yaml",
            "--dest",
            "docker",
            "--dest-tls-verify=false",
            str(spec_file),
            host(target),
        ],
        capture_output=True,
        check=True,
    )
    return time.monotonic() - started


def rule_config(work: Path, data_dir: Path, target: str, concurrency: int) -> Path:
    config = work / "replication.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(data_dir),
                "replication": {
                    "concurrency": concurrency,
                    "targets": [{"name": "empty", "url": target, "max_connections": 32}],
                    "rules": [{"name": "bench", "direction": "push", "target": "empty", "repositories": ["bench/**"]}],
                },
            }
        )
    )
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repositories", type=int, default=50)
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    images = args.repositories * args.tags
    rounds: list[Round] = []
    registries: list[Registry] = []
    with tempfile.TemporaryDirectory(prefix="bench-replication-") as temp:
        work = Path(temp)
        source = start_dockyard("source", work / "source", workers=None)
        registries.append(source)
        try:
            asyncio.run(populate(source.url, args.repositories, args.tags))
            assert source.data_dir is not None
            for number in range(args.rounds):
                order = ("dockyard", "skopeo") if number % 2 == 0 else ("skopeo", "dockyard")
                for tool in order:
                    target = start_distribution(f"{tool}-{number}", work / f"{tool}-{number}")
                    registries.append(target)
                    if tool == "skopeo":
                        seconds = run_skopeo(source.url, target.url, args.repositories, work)
                        rounds.append(Round("skopeo sync", seconds, images, ""))
                        continue
                    config = rule_config(work, source.data_dir, target.url, args.concurrency)
                    seconds, summary = run_rule(config)
                    rounds.append(Round("dockyard replicate run", seconds, images, summary))
                    seconds, summary = run_rule(config)
                    rounds.append(Round("dockyard replicate run (unchanged)", seconds, images, summary))
                    assert " 0 blobs, 0 B " in summary, summary
        finally:
            for registry in registries:
                registry.stop()
    report(rounds, args)


def report(rounds: list[Round], args: argparse.Namespace) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
    load = os.getloadavg()
    lines = [
        f"# Replication: {args.repositories * args.tags} small images into an empty Distribution 2.8.2",
        "",
        f"{platform.node()}, {os.cpu_count()} cores, load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
        f"`python -m bench.replication --repositories {args.repositories} --tags {args.tags} --rounds {args.rounds} "
        f"--concurrency {args.concurrency}`",
        "",
        "| tool | seconds | images/s | note |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r.tool} | {r.seconds:.1f} | {r.images / r.seconds:.0f} | {r.note} |" for r in rounds]
    best = {tool: min(r.seconds for r in rounds if r.tool == tool) for tool in {r.tool for r in rounds}}
    if "skopeo sync" in best and "dockyard replicate run" in best:
        ratio = best["skopeo sync"] / best["dockyard replicate run"]
        lines += ["", f"Best of each: dockyard at {ratio:.2f}x the speed of skopeo sync."]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stamp}-replication.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{stamp}-replication.json").write_text(json.dumps([asdict(r) for r in rounds], indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

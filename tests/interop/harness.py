"""Building blocks for the interoperability suite: running client commands, writing images,
reading dockyard's request counters.

Nothing here talks to a registry on its own; the fixtures in conftest.py wire it to the
session's registry.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shlex
import signal
import subprocess
import tarfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tests.support.wait import poll, wait_until

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])

# Registry routes as dockyard labels them in dockyard_http_requests_total.
ROUTES = ("base", "catalog", "tags", "manifest", "blob", "upload_start", "upload", "referrers", "metrics")


def log(message: str) -> None:
    """One line of progress on stdout (shown with -s, and in the captured output of a failure)."""
    print(f"[interop] {message}", flush=True)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return "sha256:" + h.hexdigest()


# --------------------------------------------------------------------------- running clients


@dataclass
class Result:
    cmd: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self, limit: int = 4000) -> str:
        return (
            f"$ {shlex.join(self.cmd)}\n-> exit {self.returncode} after {self.seconds:.1f}s\n"
            f"--- stdout ---\n{self.stdout[-limit:]}\n--- stderr ---\n{self.stderr[-limit:]}"
        )


class CommandFailedError(AssertionError):
    def __init__(self, result: Result):
        super().__init__(result.describe())
        self.result = result


def run(
    cmd: list[str],
    *,
    timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
    stdin: str | None = None,
) -> Result:
    """Run one client command with a hard timeout and captured output (and `stdin` fed to it).

    On timeout the whole process group is killed and the test fails with what it printed.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        result = Result(cmd, -9, out, err, time.monotonic() - started)
        raise AssertionError(f"timed out after {timeout}s\n{result.describe()}") from None
    result = Result(cmd, proc.returncode, out, err, time.monotonic() - started)
    log(f"$ {shlex.join(cmd)}  [exit {result.returncode}, {result.seconds:.1f}s]")
    if check and result.returncode != 0:
        raise CommandFailedError(result)
    return result


def spawn_daemon(cmd: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """A daemon in a session of its own, its output appended to log_path."""
    with log_path.open("ab") as logf:
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_until_ready(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], name: str, log_tail: Callable[[], str], timeout: float
) -> None:
    """Returns once ready() holds; RuntimeError with the daemon's log if it exits or times out first."""

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited {proc.returncode}:\n{log_tail()}")
        return ready()

    if poll(up, timeout, interval=0.1) is None:
        raise RuntimeError(f"{name} did not come up within {timeout}s:\n{log_tail()}")


# --------------------------------------------------------------------------- images


def tar_bytes(files: Mapping[str, bytes]) -> bytes:
    """A reproducible tar of regular files (parents added as directories)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        seen: set[str] = set()
        for name in sorted(files):
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                parent = "/".join(parts[:i])
                if parent not in seen:
                    seen.add(parent)
                    info = tarfile.TarInfo(parent)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def untar(data: bytes) -> dict[str, bytes]:
    """Regular files of a (possibly gzip-compressed) tar layer, by path."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar.getmembers():
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                out[member.name.lstrip("./")] = extracted.read()
    return out


@dataclass
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, str] | None = None
    annotations: dict[str, str] | None = None

    def to_json(self) -> dict[str, object]:
        d: dict[str, object] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            d["platform"] = self.platform
        if self.annotations:
            d["annotations"] = self.annotations
        return d


@dataclass
class Image:
    """A single-platform image written into an OCI layout."""

    manifest: Descriptor
    config: Descriptor
    layers: list[Descriptor]
    files: dict[str, bytes]
    platform: dict[str, str]


@dataclass
class Layout:
    """An OCI image layout directory written by the tests."""

    path: Path
    images: list[Image] = field(default_factory=list)
    refs: dict[str, Descriptor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        self._write_index()

    def blob_path(self, digest: str) -> Path:
        algo, hexpart = digest.split(":", 1)
        return self.path / "blobs" / algo / hexpart

    def put_blob(self, data: bytes, media_type: str) -> Descriptor:
        digest = sha256_digest(data)
        self.blob_path(digest).write_bytes(data)
        return Descriptor(media_type, digest, len(data))

    def put_blob_file(self, source: Path, media_type: str) -> Descriptor:
        digest = file_digest(source)
        target = self.blob_path(digest)
        if not target.exists():
            os.link(source, target)
        return Descriptor(media_type, digest, target.stat().st_size)

    def add_image(
        self,
        layers: list[dict[str, bytes]],
        *,
        arch: str = "amd64",
        tag: str | None = None,
        gzip_layers: bool = True,
        extra_layer_files: list[Path] | None = None,
        label: str = "dockyard-interop",
    ) -> Image:
        """Write config, layers and manifest; tag the manifest in index.json if asked."""
        layer_descs: list[Descriptor] = []
        diff_ids: list[str] = []
        merged: dict[str, bytes] = {}
        for files in layers:
            raw = tar_bytes(files)
            merged.update(files)
            diff_ids.append(sha256_digest(raw))
            if gzip_layers:
                layer_descs.append(self.put_blob(gzip.compress(raw, mtime=0), OCI_LAYER_GZIP))
            else:
                layer_descs.append(self.put_blob(raw, OCI_LAYER_TAR))
        for extra in extra_layer_files or []:
            desc = self.put_blob_file(extra, OCI_LAYER_TAR)
            layer_descs.append(desc)
            diff_ids.append(desc.digest)
        platform = {"architecture": arch, "os": "linux"}
        config = {
            "created": "2024-01-01T00:00:00Z",
            **platform,
            "config": {"Labels": {"org.dockyard.test": label}, "Cmd": ["/hello"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "dockyard interop"}],
        }
        config_desc = self.put_blob(json.dumps(config, sort_keys=True).encode(), OCI_CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_desc.to_json(),
            "layers": [d.to_json() for d in layer_descs],
        }
        manifest_desc = self.put_blob(json.dumps(manifest).encode(), OCI_MANIFEST)
        manifest_desc.platform = platform
        image = Image(manifest_desc, config_desc, layer_descs, merged, platform)
        self.images.append(image)
        if tag:
            self.tag(tag, manifest_desc)
        return image

    def add_index(self, images: list[Image], tag: str) -> Descriptor:
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                Descriptor(OCI_MANIFEST, i.manifest.digest, i.manifest.size, platform=i.platform).to_json()
                for i in images
            ],
        }
        desc = self.put_blob(json.dumps(index).encode(), OCI_INDEX)
        self.tag(tag, desc)
        return desc

    def archive(self, dest: Path) -> Path:
        """The layout as a tar archive, as `ctr images import` takes it."""
        with tarfile.open(dest, "w") as tar:
            for entry in sorted(self.path.rglob("*")):
                tar.add(entry, arcname=str(entry.relative_to(self.path)), recursive=False)
        return dest

    def tag(self, name: str, desc: Descriptor) -> None:
        self.refs[name] = desc
        self._write_index()

    def _write_index(self) -> None:
        manifests = []
        for name, desc in self.refs.items():
            entry = Descriptor(desc.media_type, desc.digest, desc.size, platform=desc.platform)
            entry.annotations = {"org.opencontainers.image.ref.name": name}
            manifests.append(entry.to_json())
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        (self.path / "index.json").write_text(json.dumps(index))


def small_layout(path: Path, label: str) -> tuple[Layout, str]:
    """A layout with one single-layer image tagged v1: (layout, manifest digest)."""
    layout = Layout(path)
    image = layout.add_image([{"hello": f"pushed with credentials by {label}\n".encode()}], tag="v1")
    return layout, image.manifest.digest


def read_layout_ref(path: Path, tag: str | None = None) -> dict[str, object]:
    """The index.json entry of an OCI layout (the one named `tag`, or the only one)."""
    index = json.loads((path / "index.json").read_text())
    entries = index["manifests"]
    if tag is not None:
        entries = [m for m in entries if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    assert len(entries) == 1, f"expected one entry for {tag!r} in {path}/index.json: {index}"
    return entries[0]


def layout_blob(path: Path, digest: str) -> bytes:
    algo, hexpart = digest.split(":", 1)
    return (path / "blobs" / algo / hexpart).read_bytes()


def layout_files(path: Path, manifest_digest: str) -> dict[str, bytes]:
    """All files of a single-platform image in an OCI layout, verifying every blob's digest."""
    raw = layout_blob(path, manifest_digest)
    assert sha256_digest(raw) == manifest_digest
    manifest = json.loads(raw)
    files: dict[str, bytes] = {}
    for layer in manifest["layers"]:
        data = layout_blob(path, layer["digest"])
        assert sha256_digest(data) == layer["digest"], f"layer {layer['digest']} corrupt in {path}"
        files.update(untar(data))
    return files


# --------------------------------------------------------------------------- metrics

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

MetricKey = tuple[str, tuple[tuple[str, str], ...]]


def parse_prometheus(text: str) -> dict[MetricKey, float]:
    samples: dict[MetricKey, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = tuple(sorted(_LABEL.findall(m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


@dataclass
class Traffic:
    """What the registry saw between two points: requests by (method, route, status), plus
    dockyard's blob counters. `source` says where the numbers came from."""

    source: str
    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    mounts: float = 0.0
    uploads: float = 0.0

    def count(self, method: str | None = None, route: str | None = None, status: str | None = None) -> int:
        return sum(
            n
            for (m, r, s), n in self.requests.items()
            if (method is None or m == method) and (route is None or r == route) and (status is None or s == status)
        )

    def upload_style(self) -> dict[str, int]:
        """How a client moved blob bytes: POST starts, PATCH chunks, PUT closes, mounts."""
        return {
            "POST upload_start": self.count("POST", "upload_start"),
            "PATCH upload": self.count("PATCH", "upload"),
            "PUT upload": self.count("PUT", "upload"),
            "mounts": int(self.mounts),
            "uploads completed": int(self.uploads),
        }

    def describe_style(self) -> str:
        style = self.upload_style()
        posts, patches, puts = style["POST upload_start"], style["PATCH upload"], style["PUT upload"]
        if posts == 0 and patches == 0 and puts == 0:
            kind = "no uploads"
        elif patches == 0 and puts == 0:
            kind = "mounted (POST ?mount=&from=)" if style["mounts"] else "upload sessions started, none finished"
        elif patches == 0:
            kind = "monolithic (POST + PUT with body)"
        elif patches == puts:
            kind = "streamed (POST, one PATCH, PUT)"
        else:
            kind = "chunked (POST, several PATCH, PUT)"
        return f"{kind}; " + ", ".join(f"{k}={v}" for k, v in style.items()) + f" [{self.source}]"


def route_of(path: str) -> str:
    """dockyard's route label for a request path (used when reading an access log)."""
    path = path.split("?", 1)[0]
    if path in ("/v2", "/v2/"):
        return "base"
    if path == "/v2/_catalog":
        return "catalog"
    if path == "/metrics":
        return "metrics"
    if path.endswith("/tags/list"):
        return "tags"
    if "/manifests/" in path:
        return "manifest"
    if "/referrers/" in path:
        return "referrers"
    if path.endswith("/blobs/uploads/") or path.endswith("/blobs/uploads"):
        return "upload_start"
    if "/blobs/uploads/" in path:
        return "upload"
    if "/blobs/" in path:
        return "blob"
    return "other"


_ACCESS = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d{3})')


class TrafficMeter:
    """Reads dockyard's /metrics, or for an external registry the access log named by
    DOCKYARD_INTEROP_ACCESS_LOG if there is one."""

    def __init__(self, url: str, dockyard: bool, access_log: Path | None):
        self.url = url
        self.dockyard = dockyard
        self.access_log = access_log

    @property
    def available(self) -> bool:
        return self.dockyard or self.access_log is not None

    def _metrics(self) -> dict[MetricKey, float]:
        resp = httpx.get(self.url + "/metrics", timeout=10)
        assert resp.status_code == 200, f"GET /metrics -> {resp.status_code}: {resp.text[:500]}"
        return parse_prometheus(resp.text)

    def _log_offset(self) -> int:
        assert self.access_log is not None
        return self.access_log.stat().st_size

    def _log_lines_since(self, offset: int) -> str:
        """The access log's lines from `offset` on, up to a marker request sent now: the registry
        answered every request before that one, so it has written their lines by the marker's."""
        assert self.access_log is not None
        log_file, marker = self.access_log, f"/v2/traffic-marker-{uuid.uuid4().hex}/tags/list"
        httpx.get(self.url + marker, timeout=10)

        def through_marker() -> str | None:
            with log_file.open("rb") as f:
                f.seek(offset)
                text = f.read().decode(errors="replace")
            return text if marker in text else None

        text = wait_until(through_marker, 10, f"the access log never showed {marker}")
        return text[: text.index(marker)].rpartition("\n")[0]

    @contextlib.contextmanager
    def measure(self) -> Iterator[Traffic]:
        """Counts what happens inside the block; the Traffic is filled in when it exits."""
        if self.dockyard:
            traffic = Traffic("dockyard /metrics")
            before = self._metrics()
            yield traffic
            after = self._metrics()
            for key, value in after.items():
                delta = value - before.get(key, 0.0)
                name, labels = key
                if not delta:
                    continue
                lab = dict(labels)
                if name == "dockyard_http_requests_total":
                    traffic.requests[(lab.get("method", ""), lab.get("route", ""), lab.get("status", ""))] += int(delta)
                elif name == "dockyard_blob_mounts_total":
                    traffic.mounts += delta
                elif name == "dockyard_blob_uploads_total":
                    traffic.uploads += delta
            # Our own scrape of /metrics is counted too; leave it out.
            traffic.requests.pop(("GET", "metrics", "200"), None)
        elif self.access_log is not None:
            traffic = Traffic(f"access log {self.access_log.name}")
            start = self._log_offset()
            yield traffic
            for m in _ACCESS.finditer(self._log_lines_since(start)):
                method, path, status = m.groups()
                route = route_of(path)
                traffic.requests[(method, route, status)] += 1
                if method == "POST" and route == "upload_start" and "mount=" in path and status == "201":
                    traffic.mounts += 1
                if method == "PUT" and route == "upload" and status == "201":
                    traffic.uploads += 1
        else:
            traffic = Traffic("not observable")
            yield traffic

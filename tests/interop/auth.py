"""Registries with authentication for the interoperability suite: dockyard started with an
htpasswd file (users made with `dockyard user add`) in Basic or token mode, optionally over TLS
with a certificate from a CA made here; and an httpx auth flow the tests check the registry with.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from tests.interop.clients import Target
from tests.interop.harness import MANIFEST_ACCEPT, OCI_MANIFEST, Result, TrafficMeter, run, sha256_digest
from tests.support.server import DockyardServer

MODES = ("basic", "token")
PUBLIC = "public"  # repositories under public/ may be pulled anonymously
TITLE = "org.opencontainers.image.title"
EMPTY_JSON = "application/vnd.oci.empty.v1+json"


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str

    @property
    def joined(self) -> str:
        """user:password, as skopeo --creds and ctr --user take them."""
        return f"{self.user}:{self.password}"

    @property
    def basic_header(self) -> str:
        return "Basic " + base64.b64encode(self.joined.encode()).decode()


@dataclass(frozen=True)
class TlsFiles:
    """A private CA and a server certificate for 127.0.0.1 signed by it."""

    ca_cert: Path
    server_cert: Path
    server_key: Path

    @property
    def cert_dir(self) -> Path:
        """A directory holding only the CA, as `skopeo --cert-dir` and docker's certs.d want it."""
        return self.ca_cert.parent


def make_tls(directory: Path) -> TlsFiles:
    """An EC P-256 CA and a server certificate for IP 127.0.0.1, valid for a day, via openssl."""
    ca_dir, server_dir = directory / "ca", directory / "server"
    ca_dir.mkdir(parents=True)
    server_dir.mkdir(parents=True)
    files = TlsFiles(ca_dir / "ca.crt", server_dir / "server.crt", server_dir / "server.key")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_key = directory / "ca.key"
    openssl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=dockyard interop test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", str(ca_key), "-out", str(files.ca_cert))  # fmt: skip
    csr = directory / "server.csr"
    openssl("req", *ec, "-subj", "/CN=127.0.0.1", "-keyout", str(files.server_key), "-out", str(csr))
    extensions = directory / "server.ext"
    extensions.write_text(
        "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n"
        "keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n"
    )
    openssl("x509", "-req", "-in", str(csr), "-CA", str(files.ca_cert), "-CAkey", str(ca_key),
            "-CAserial", str(directory / "ca.srl"), "-CAcreateserial",
            "-days", "1", "-extfile", str(extensions), "-out", str(files.server_cert))  # fmt: skip
    return files


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@dataclass
class SecuredRegistry:
    """A dockyard process with authentication on, and who may use it."""

    mode: str
    server: DockyardServer
    target: Target
    writer: Credentials  # may pull, push, delete, overwrite everywhere
    reader: Credentials  # may only pull
    tls: TlsFiles | None

    def http(self, who: Credentials | None = None) -> httpx.Client:
        """A plain HTTP client that answers the registry's challenges as `who` (default: writer)."""
        return httpx.Client(
            base_url=self.target.url,
            auth=ChallengeAuth(who or self.writer),
            verify=self.server.verify,
            timeout=30.0,
        )

    def digest_of(self, name: str, tag: str) -> str:
        """The digest of the manifest dockyard holds for name:tag, read as the reader."""
        with self.http(self.reader) as http:
            resp = http.get(f"/v2/{name}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT})
        assert resp.status_code == 200, resp.text
        return sha256_digest(resp.content)

    def push_artifact(self, name: str, tag: str, files: dict[str, bytes]) -> str:
        """An artifact of titled files, pushed with plain HTTP requests as the writer: its manifest digest."""
        with self.http() as http:
            layers = [
                self._push_blob(http, name, data) | {"annotations": {TITLE: title}} for title, data in files.items()
            ]
            manifest = json.dumps({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.dockyard.test.artifact",
                "config": self._push_blob(http, name, b"{}", EMPTY_JSON),
                "layers": layers,
            }).encode()  # fmt: skip
            resp = http.put(f"/v2/{name}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST})
        assert resp.status_code == 201, resp.text
        return sha256_digest(manifest)

    @staticmethod
    def _push_blob(
        http: httpx.Client, name: str, data: bytes, media_type: str = "application/octet-stream"
    ) -> dict[str, object]:
        started = http.post(f"/v2/{name}/blobs/uploads/")
        assert started.status_code == 202, started.text
        digest = sha256_digest(data)
        done = http.put(started.headers["location"], params={"digest": digest}, content=data)
        assert done.status_code == 201, done.text
        return {"mediaType": media_type, "digest": digest, "size": len(data)}


def start_secured(root: Path, mode: str, tls: TlsFiles | None = None) -> SecuredRegistry:
    """dockyard with an htpasswd file of two users, a rule for each, anonymous pulls under public/,
    in `mode` (basic|token)."""
    assert mode in MODES, mode
    writer = Credentials("alice", secrets.token_urlsafe(12))
    reader = Credentials("bob", secrets.token_urlsafe(12))
    settings: dict[str, object] = {
        "auth": {
            "htpasswd": str(root / "htpasswd"),
            "rules": [
                {"repositories": ["**"], "users": [writer.user], "actions": ["pull", "push", "delete", "overwrite"]},
                {"repositories": ["**"], "users": [reader.user], "actions": ["pull"]},
            ],
            "anonymous": [f"{PUBLIC}/**"],
            # The tests try wrong and missing credentials on purpose, all from 127.0.0.1: keep the
            # failed-login limit (tested in tests/auth) out of their way.
            "failed_logins_per_minute": 10_000,
            "token": {"enabled": mode == "token"},
        },
    }
    if tls is not None:
        settings |= {"tls_cert": str(tls.server_cert), "tls_key": str(tls.server_key)}
    config = root / "dockyard.yaml"
    config.write_text(yaml.safe_dump(settings))
    for who in (writer, reader):
        add_user(config, who)
    server = DockyardServer(
        root / "data", extra_args=["--config", str(config)], tls_ca=tls.ca_cert if tls else None
    ).start()
    host = server.url.split("://", 1)[1]
    target = Target(server.url, host, True, TrafficMeter(server.url, dockyard=False, access_log=None))
    return SecuredRegistry(mode, server, target, writer, reader, tls)


def add_user(config: Path, who: Credentials) -> None:
    """`dockyard user --config FILE add NAME --password-stdin`, with the configuration serve is given."""
    cmd = [sys.executable, "-m", "dockyard", "user", "--config", str(config), "add", who.user, "--password-stdin"]
    run(cmd, stdin=who.password + "\n", timeout=60)


class ChallengeAuth(httpx.Auth):
    """Answers a 401 the way registry clients do (Basic credentials, or a token from the realm) and,
    like them, sends the last answer with the next request instead of waiting for a challenge."""

    requires_response_body = True

    def __init__(self, who: Credentials):
        self.who = who
        self.authorization: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.authorization:
            request.headers["Authorization"] = self.authorization
        response = yield request
        if response.status_code != 401:
            return
        scheme, params = parse_challenge(response.headers.get("www-authenticate", ""))
        if scheme == "basic":
            self.authorization = self.who.basic_header
        else:
            query = {"service": params.get("service", "")}
            if "scope" in params:
                query["scope"] = params["scope"]
            token_response = yield httpx.Request(
                "GET", params["realm"], params=query, headers={"Authorization": self.who.basic_header}
            )
            if token_response.status_code != 200:
                return
            self.authorization = "Bearer " + token_response.json()["token"]
        request.headers["Authorization"] = self.authorization
        yield request


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="...",scope="..."` -> ("bearer", {...})."""
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    for part in _split_params(rest):
        key, _, value = part.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return scheme.lower(), params


def _split_params(text: str) -> list[str]:
    # Commas separate parameters, but a scope ("repository:x:pull,push") has commas inside quotes.
    parts, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p for p in [*parts, current] if p.strip()]


def refused(result: Result) -> None:
    """The client failed, and said it was because of authentication or authorization."""
    assert result.returncode != 0, result.describe()
    said = (result.stdout + result.stderr).lower()
    assert any(word in said for word in ("auth", "denied", "forbidden")), result.describe()

"""dockyard serves HTTPS when given a certificate and key."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
from tests.support.server import DockyardServer


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_https_with_a_configured_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    env = {"DOCKYARD_TLS_CERT": str(cert), "DOCKYARD_TLS_KEY": str(key)}
    server = DockyardServer(tmp_path / "data", env=env, tls_ca=cert)
    try:
        server.start()
        response = httpx.get(server.url + "/v2/", verify=server.verify)
        assert response.status_code == 200
        assert response.headers["docker-distribution-api-version"] == "registry/2.0"
        assert "dockyard listening on https://" in server.log()
    finally:
        server.stop()

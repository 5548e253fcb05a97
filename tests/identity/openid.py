"""The OpenID Provider of the identity tests: oidc-provider on Debian's Node.js (installed by
.ci/install-identity.sh into tests/identity/provider), started as a child process on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
from bench.procs import free_port
from tests.support.wait import poll

PROVIDER_DIR = Path(__file__).parent / "provider"
CLIENT_ID = "dockyard"
CLIENT_SECRET = "client-secret-of-the-identity-tests-8"
ACCOUNTS = {
    "alice": {"preferred_username": "alice", "name": "Alice", "groups": ["developers"]},
    "bob": {"preferred_username": "bob", "name": "Bob", "groups": ["readers"]},
}


class OpenIdProvider:
    """oidc-provider with one confidential client whose redirect URI is dockyard's callback at `dockyard_url`."""

    def __init__(self, directory: Path, dockyard_url: str):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self._log = directory / "provider.log"
        self._settings = {
            "port": self.port,
            "client": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [f"{dockyard_url}/ui/oidc/callback"],
                "post_logout_redirect_uris": [f"{dockyard_url}/ui/"],
            },
            "accounts": ACCOUNTS,
        }
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OpenIdProvider:
        node = shutil.which("node")
        if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("node or oidc-provider is missing: run .ci/install-identity.sh")
        self._proc = subprocess.Popen(
            [node, str(PROVIDER_DIR / "provider.mjs"), json.dumps(self._settings)],
            stdout=self._log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if poll(self._answers, 30) is None:
            self.stop()
            raise RuntimeError(f"the OpenID Provider did not answer: {self.log()}")
        return self

    def _answers(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"the OpenID Provider exited: {self.log()}")
        try:
            return httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=30)
        self._proc = None

    def settings(self) -> dict[str, object]:
        """The `auth.oidc` section for this provider."""
        return {"issuer": self.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

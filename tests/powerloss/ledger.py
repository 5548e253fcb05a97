"""What the registry acknowledged, and what was in flight when the power went: the power-loss crash
test's record, and its check of a restarted registry against it.

Each worker owns its tags, manifests and sessions, so the order of its acknowledgements is the
order of the changes: after a cut an object holds its last acknowledged state, or the state the
request in flight would have given it. Whatever a check finds, it is durable (everything on the
remounted disk is), so the check settles each open question for the next round.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from tests.http.ocitest import RegistryClient, digest_of, upload_end

ABSENT = ""  # a tag that is not there, or a manifest deleted


@dataclass
class Session:
    """A chunked upload whose POST was acknowledged."""

    repo: str
    location: str
    data: bytes
    acknowledged: int = 0  # bytes the 202s of its PATCHes covered
    sent: int = 0  # the end of the chunk in flight (or `acknowledged`)
    finishing: bool = False  # its PUT was in flight

    @property
    def digest(self) -> str:
        return digest_of(self.data)


@dataclass
class Ledger:
    blobs: dict[str, bytes] = field(default_factory=dict)  # acknowledged: never removed in this test
    maybe_blobs: dict[str, bytes] = field(default_factory=dict)  # pushed when the power went
    blob_repos: dict[str, str] = field(default_factory=dict)
    # manifest digest -> (repository, body); and the states each may be in: body present or ABSENT.
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    manifest_states: dict[str, set[str]] = field(default_factory=dict)
    tags: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (repo, tag) -> digests or ABSENT
    sessions: list[Session] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- while pushing: begin() before a request, ack() after its success ------------------------

    def begin_blob(self, repo: str, data: bytes) -> str:
        digest = digest_of(data)
        with self.lock:
            self.blob_repos[digest] = repo
            if digest not in self.blobs:
                self.maybe_blobs[digest] = data
        return digest

    def ack_blob(self, digest: str, data: bytes) -> None:
        with self.lock:
            self.blobs[digest] = data
            self.maybe_blobs.pop(digest, None)

    def begin_tag(self, repo: str, tag: str, digest: str) -> None:
        with self.lock:
            self.tags.setdefault((repo, tag), {ABSENT}).add(digest)

    def ack_tag(self, repo: str, tag: str, digest: str) -> None:
        with self.lock:
            self.tags[(repo, tag)] = {digest}

    def begin_manifest(self, repo: str, digest: str, body: bytes, state: str) -> None:
        with self.lock:
            self.manifests[digest] = (repo, body)
            self.manifest_states.setdefault(digest, {ABSENT}).add(state)

    def ack_manifest(self, digest: str, state: str) -> None:
        with self.lock:
            self.manifest_states[digest] = {state}
            if state == ABSENT:  # deleting a manifest by digest takes its tags along
                for key, digests in self.tags.items():
                    if digest in digests:  # {digest, ABSENT} since begin_manifest_delete()
                        self.tags[key] = {ABSENT}

    def begin_manifest_delete(self, digest: str) -> None:
        with self.lock:
            self.manifest_states[digest].add(ABSENT)
            for digests in self.tags.values():
                if digest in digests:
                    digests.add(ABSENT)

    def present_manifests(self, repo: str) -> list[str]:
        with self.lock:
            return [d for d, (r, _) in self.manifests.items() if r == repo and self.manifest_states[d] == {"body"}]

    # -- after a restart ---------------------------------------------------------------------------

    def check(self, client: RegistryClient) -> None:
        """Every acknowledged object is served as acknowledged; settle what was in flight."""
        for digest, data in self.blobs.items():
            assert blob(client, self.blob_repos[digest], digest) == data, f"acknowledged blob {digest} lost"
        for digest, data in list(self.maybe_blobs.items()):
            served = blob(client, self.blob_repos[digest], digest)
            assert served in (None, data), f"blob {digest} in flight served with other bytes"
            if served is not None:
                self.blobs[digest] = data
            del self.maybe_blobs[digest]
        for digest, (repo, body) in self.manifests.items():
            response = client.get_manifest(repo, digest)
            found = "body" if response.status_code == 200 else ABSENT
            assert found in self.manifest_states[digest], f"manifest {digest}: {response.status_code}"
            assert found == ABSENT or response.content == body, f"manifest {digest} served with other bytes"
            self.manifest_states[digest] = {found}
        for (repo, tag), allowed in self.tags.items():
            response = client.get_manifest(repo, tag)
            found = response.headers["docker-content-digest"] if response.status_code == 200 else ABSENT
            assert response.status_code in (200, 404), f"tag {repo}:{tag}: {response.status_code}"
            assert found in allowed, f"tag {repo}:{tag} at {found or 'nothing'}, acknowledged {allowed}"
            assert found == ABSENT or response.content == self.manifests[found][1]
            self.tags[(repo, tag)] = {found}
        for session in self.sessions:
            self._resume(client, session)
        self.sessions = []

    def _resume(self, client: RegistryClient, session: Session) -> None:
        """An acknowledged session reports only durable bytes, at least those acknowledged, and the
        rest of the blob completes it."""
        status = client.upload_status(session.location)
        if status.status_code == 404:
            # Only a completion in flight ends a session: its blob is there, or (bytes in place, the
            # link not committed) unknown and pushed anew by the client.
            assert session.finishing, f"acknowledged session {session.location} lost"
            if blob(client, session.repo, session.digest) is None:
                assert client.push_blob_monolithic(session.repo, session.data).status_code == 201
            self.blobs[session.digest] = session.data
            return
        assert status.status_code == 204, f"session status {status.status_code} {status.text}"
        end = upload_end(status)
        size = 0 if end == 0 else end + 1  # every chunk here is longer than one byte
        assert session.acknowledged <= size <= session.sent, (
            f"session reports {size} bytes; acknowledged {session.acknowledged}, sent {session.sent}"
        )
        location = status.headers["location"]
        if size < len(session.data):
            rest = client.patch(location, session.data[size:], f"{size}-{len(session.data) - 1}")
            assert rest.status_code == 202, f"resuming at {size}: {rest.status_code} {rest.text}"
            location = rest.headers["location"]
        done = client.finish(location, session.digest)
        assert done.status_code == 201, f"completing a resumed session: {done.status_code} {done.text}"
        assert blob(client, session.repo, session.digest) == session.data
        self.blobs[session.digest] = session.data


def blob(client: RegistryClient, repo: str, digest: str) -> bytes | None:
    """The blob's bytes as served (checked against the digest), or None when it is unknown."""
    response = client.get_blob(repo, digest)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, f"blob {digest}: {response.status_code}"
    assert f"sha256:{hashlib.sha256(response.content).hexdigest()}" == digest, f"blob {digest} served corrupt"
    return response.content

"""A blob over 1 GiB, pushed monolithically and in chunks, pulled back while hashing; neither the
server nor this test holds it in memory."""

from __future__ import annotations

import hashlib
import resource

import pytest
from tests.http.ocitest import RegistryClient, seeded_chunks, seeded_digest, sliced
from tests.support.server import DockyardServer

pytestmark = pytest.mark.slow
MIB = 1 << 20
SIZE = 1024 * MIB + 12345  # just over 1 GiB, not a multiple of any chunk size
PART = 256 * MIB
REPO = "large/blob"
RSS_GROWTH_LIMIT_KIB = 64 * 1024


def pull_digest(client: RegistryClient, digest: str) -> tuple[str, int]:
    hasher, received = hashlib.sha256(), 0
    with client.http.stream("GET", client.blob_url(REPO, digest)) as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == SIZE
        for chunk in response.iter_bytes(4 * MIB):
            hasher.update(chunk)
            received += len(chunk)
    return f"sha256:{hasher.hexdigest()}", received


def own_peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_one_gib_blob_monolithic_and_chunked(fresh_server: DockyardServer) -> None:
    server = fresh_server.start()
    with RegistryClient(server.url, timeout=300) as client:
        # Warm up every code path once so that lazy imports and pools count in the baseline.
        warm = b"warm-up" * 1000
        client.push_blob(REPO, warm)
        assert client.get_blob(REPO, client.push_blob(REPO, warm)).content == warm
        server_baseline = server.peak_rss_kib()
        own_baseline = own_peak_rss_kib()

        mono_digest = seeded_digest(1, SIZE)
        response = client.http.post(
            f"/v2/{REPO}/blobs/uploads/",
            params={"digest": mono_digest},
            content=seeded_chunks(1, SIZE),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(SIZE)},
        )
        assert response.status_code == 201, response.text
        assert response.headers["docker-content-digest"] == mono_digest
        assert client.head(client.blob_url(REPO, mono_digest)).headers["content-length"] == str(SIZE)
        assert pull_digest(client, mono_digest) == (mono_digest, SIZE)

        chunked_digest = seeded_digest(2, SIZE)
        location = client.open_session(REPO)
        for start in range(0, SIZE, PART):
            stop = min(start + PART, SIZE)
            patched = client.patch(
                location, sliced(seeded_chunks(2, SIZE), start, stop), f"{start}-{stop - 1}", stop - start
            )
            assert patched.status_code == 202, patched.text
            assert patched.headers["range"] == f"0-{stop - 1}"
            location = patched.headers["location"]
        done = client.finish(location, chunked_digest)
        assert done.status_code == 201, done.text
        assert pull_digest(client, chunked_digest) == (chunked_digest, SIZE)

        ranged = client.get_blob(REPO, chunked_digest, headers={"Range": f"bytes={SIZE - 100}-"})
        assert ranged.status_code == 206
        assert ranged.content == b"".join(sliced(seeded_chunks(2, SIZE), SIZE - 100, SIZE))

        growth = server.peak_rss_kib() - server_baseline
        print(f"server peak RSS {server.peak_rss_kib()} KiB, growth {growth} KiB over two 1 GiB pushes and pulls")
        assert growth < RSS_GROWTH_LIMIT_KIB, f"server peak RSS grew by {growth} KiB"
        assert own_peak_rss_kib() - own_baseline < 4 * RSS_GROWTH_LIMIT_KIB, "the test itself buffered the blob"

"""A 1 GiB blob pushed into S3 and pulled back: the server's memory stays flat."""

from __future__ import annotations

import hashlib

import pytest
from tests.http.ocitest import RegistryClient, seeded_chunks, seeded_digest, sliced
from tests.s3.conftest import ServerFactory

pytestmark = pytest.mark.slow
MIB = 1 << 20
SIZE = 1024 * MIB + 12345  # not a multiple of the part size
CHUNK = 300 * MIB
REPO = "large/s3"
RSS_GROWTH_LIMIT_KIB = 64 * 1024


def pulled_digest(client: RegistryClient, digest: str) -> str:
    hasher = hashlib.sha256()
    with client.http.stream("GET", client.blob_url(REPO, digest)) as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == SIZE
        for chunk in response.iter_bytes(4 * MIB):
            hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"


def test_one_gib_into_s3_in_one_patch_and_in_chunks_with_flat_memory(s3_server: ServerFactory) -> None:
    server = s3_server()
    with RegistryClient(server.url, timeout=600) as client:
        warm = b"warm-up" * 200_000  # every code path once, so lazy imports and pools are in the baseline
        assert client.get_blob(REPO, client.push_blob(REPO, warm)).content == warm
        baseline = server.peak_rss_kib()

        whole = seeded_digest(1, SIZE)
        location = client.open_session(REPO)
        patched = client.patch(location, seeded_chunks(1, SIZE), content_length=SIZE)  # as skopeo does
        assert patched.status_code == 202, patched.text
        done = client.finish(patched.headers["location"], whole)
        assert done.status_code == 201, done.text
        assert pulled_digest(client, whole) == whole

        chunked = seeded_digest(2, SIZE)
        location = client.open_session(REPO)
        for start in range(0, SIZE, CHUNK):
            stop = min(start + CHUNK, SIZE)
            part = sliced(seeded_chunks(2, SIZE), start, stop)
            patched = client.patch(location, part, f"{start}-{stop - 1}", stop - start)
            assert patched.status_code == 202, patched.text
            location = patched.headers["location"]
        assert client.finish(location, chunked).status_code == 201
        ranged = client.get_blob(REPO, chunked, headers={"Range": f"bytes={SIZE - 100}-"})
        assert ranged.status_code == 206
        assert ranged.content == b"".join(sliced(seeded_chunks(2, SIZE), SIZE - 100, SIZE))

        growth = server.peak_rss_kib() - baseline
        print(f"server peak RSS growth {growth} KiB over two 1 GiB pushes into S3 and one pull")
        assert growth < RSS_GROWTH_LIMIT_KIB

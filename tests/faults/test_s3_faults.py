"""dockyard on S3 through the fault proxy: throttling, 5xx answers, resets before and after S3 acted,
bodies cut short and stalls longer than the timeouts, on GET, PUT, multipart and copy. Idempotent
requests are retried a bounded number of times and the client never notices; what keeps failing
answers 503 with the spec's error body instead of hanging; nothing is left behind in the bucket for
longer than the purge interval."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from tests.http.ocitest import RegistryClient, assert_error, digest_of
from tests.support.ceph import S3Endpoint
from tests.support.faultproxy import CutBody, FaultProxy, Reset, Stall, s3_error
from tests.support.s3 import ServerBucket
from tests.support.server import DockyardServer
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

REPO = "faults/s3"
MIB = 1 << 20
MAX_ATTEMPTS = 3
# Short enough that a stalled request is given up quickly, long enough for a loaded machine.
TIMEOUTS = {"CONNECT_TIMEOUT_SECONDS": "3", "READ_TIMEOUT_SECONDS": "3", "ATTEMPT_TIMEOUT_SECONDS": "4"}
PART = f"{MIB * 6}"  # chunks of 6 MiB: each becomes a segment of its own, composed by UploadPartCopy


def s3_env(s3_bucket: Callable[[], dict[str, str]], proxy: FaultProxy, **extra: str) -> dict[str, str]:
    env = {**s3_bucket(), "DOCKYARD_STORAGE__S3__ENDPOINT": proxy.url}
    settings = {**TIMEOUTS, "MAX_ATTEMPTS": str(MAX_ATTEMPTS)}
    env.update({f"DOCKYARD_STORAGE__S3__{key}": value for key, value in settings.items()})
    return {**env, **extra}


@pytest.fixture(scope="module")
def proxy(s3_endpoint: S3Endpoint) -> Iterator[FaultProxy]:
    with FaultProxy(s3_endpoint.url) as fault_proxy:
        yield fault_proxy


@pytest.fixture(scope="module")
def server(
    proxy: FaultProxy, s3_bucket: Callable[[], dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockyardServer]:
    with DockyardServer(tmp_path_factory.mktemp("s3-faults") / "data", env=s3_env(s3_bucket, proxy)) as started:
        yield started


@pytest.fixture
def client(server: DockyardServer, proxy: FaultProxy) -> Iterator[RegistryClient]:
    with RegistryClient(server.url, timeout=120) as registry:
        yield registry
    proxy.clear()
    assert "Traceback" not in server.log()


def seeded(seed: str, size: int) -> bytes:
    block = hashlib.sha256(seed.encode()).digest() * 2048
    return (block * (size // len(block) + 1))[:size]


def push_in_chunks(client: RegistryClient, data: bytes, chunk: int) -> httpx.Response:
    """PATCH chunk after chunk (a segment each in S3), then the closing PUT."""
    location = client.open_session(REPO)
    for start in range(0, len(data), chunk):
        piece = data[start : start + chunk]
        response = client.patch(location, piece, f"{start}-{start + len(piece) - 1}", len(piece))
        if response.status_code != 202:
            return response
        location = response.headers["location"]
    return client.finish(location, digest_of(data))


def test_throttling_and_server_errors_are_retried(
    client: RegistryClient, proxy: FaultProxy, server: DockyardServer
) -> None:
    bucket = ServerBucket.of(server.env).bucket
    slow_down = s3_error(503, "SlowDown")
    parts = proxy.add("PUT", f"/{bucket}/*", slow_down, query="*partNumber=*", times=2)
    copies = proxy.add("PUT", f"/{bucket}/*", slow_down, headers={"x-amz-copy-source": "*"}, times=1)
    completes = proxy.add("POST", f"/{bucket}/*", s3_error(500, "InternalError"), query="uploadId=*", times=1)
    reads = proxy.add("GET", f"/{bucket}/blobs/*", s3_error(503, "SlowDown"), times=1)
    blob = seeded("throttled", 13 * MIB)

    done = push_in_chunks(client, blob, int(PART))
    assert done.status_code == 201, done.text
    pulled = client.get_blob(REPO, digest_of(blob))
    assert (pulled.status_code, pulled.content == blob) == (200, True)
    assert (parts.hits, copies.hits, completes.hits, reads.hits) == (2, 1, 1, 1)


def test_resets_before_and_after_s3_acted_are_retried(
    client: RegistryClient, proxy: FaultProxy, server: DockyardServer
) -> None:
    bucket = ServerBucket.of(server.env).bucket
    # Reset before S3 saw the request, and after S3 acted on it but before its answer came back
    # (a conditional PUT of the upload's state whose retry finds its own write there; RGW takes
    # the bare ETag, so that is the form whose answer is lost).
    parts = proxy.add("PUT", f"/{bucket}/*", Reset(), query="*partNumber=*", times=1)
    bare_etag = re.compile("[0-9a-f]+")
    states = proxy.add("PUT", f"/{bucket}/*/state", Reset(forward=True), headers={"if-match": bare_etag}, times=2)
    creates = proxy.add("POST", f"/{bucket}/*", Reset(forward=True), query="uploads*", times=1)
    blob = seeded("reset", 13 * MIB)

    done = push_in_chunks(client, blob, int(PART))
    assert done.status_code == 201, done.text
    assert client.get_blob(REPO, digest_of(blob)).content == blob
    assert (parts.hits, states.hits, creates.hits) == (1, 2, 1)


def test_a_download_cut_short_or_stalled_is_resumed(
    client: RegistryClient, proxy: FaultProxy, server: DockyardServer
) -> None:
    bucket = ServerBucket.of(server.env).bucket
    blob = seeded("resumed", 6 * MIB)
    digest = client.push_blob(REPO, blob)
    before = len(proxy.exchanges("GET", f"/{bucket}/blobs/*"))
    cut = proxy.add("GET", f"/{bucket}/blobs/*", CutBody(after_bytes=2 * MIB), times=1)
    stalled = proxy.add("GET", f"/{bucket}/blobs/*", Stall(after_bytes=MIB), times=1)
    try:
        pulled = client.get_blob(REPO, digest)
        assert (pulled.status_code, pulled.content == blob) == (200, True)
        assert (cut.hits, stalled.hits) == (1, 1)
    finally:
        stalled.release()
    exchanges = proxy.exchanges("GET", f"/{bucket}/blobs/*")[before:]
    starts = [_range_start(exchange.request.header("range")) for exchange in exchanges]
    # Cut after 2 MiB were sent, then the resumed read stalled after 1 MiB more: each read goes on
    # from what arrived before (bytes in flight at the cut are lost with the connection), and on a
    # slow machine a later read may outlast its timeout and be resumed once more.
    assert len(starts) >= 3, starts
    assert starts[0] == 0, starts
    assert 0 < starts[1] <= 2 * MIB, starts
    assert starts[1] < starts[2] <= starts[1] + MIB, starts
    assert starts == sorted(set(starts)), starts


def _range_start(header: str | None) -> int:
    return 0 if header is None else int(header.removeprefix("bytes=").split("-")[0])


def test_an_upload_stalled_past_its_timeout_is_sent_again(
    client: RegistryClient, proxy: FaultProxy, server: DockyardServer
) -> None:
    bucket = ServerBucket.of(server.env).bucket
    held = proxy.add("PUT", f"/{bucket}/*", Stall(hold_request=True), query="*partNumber=*", times=1)
    blob = seeded("held", 9 * MIB)
    done = push_in_chunks(client, blob, len(blob))
    assert done.status_code == 201, done.text
    assert client.get_blob(REPO, digest_of(blob)).content == blob
    assert held.hits == 1
    held.release()


def test_a_store_that_keeps_failing_answers_503_after_bounded_retries(
    client: RegistryClient, proxy: FaultProxy, server: DockyardServer
) -> None:
    bucket = ServerBucket.of(server.env).bucket
    blob = seeded("kept", 3 * MIB)
    digest = client.push_blob(REPO, blob)
    before = proxy.count("HEAD", f"/{bucket}/blobs/*")
    failing = proxy.add("HEAD", f"/{bucket}/blobs/*", s3_error(503, "SlowDown"))
    refused = client.get_blob(REPO, digest)
    assert_error(refused, 503, "UNAVAILABLE")
    assert proxy.count("HEAD", f"/{bucket}/blobs/*") - before == MAX_ATTEMPTS

    proxy.remove(failing)
    stall = proxy.add("HEAD", f"/{bucket}/blobs/*", Stall())  # every attempt outlasts its timeout
    assert_error(client.get_blob(REPO, digest), 503, "UNAVAILABLE")  # the client is answered: no hang
    proxy.remove(stall)

    proxy.down("reset")
    assert_error(client.push_blob_monolithic(REPO, b"while S3 resets every connection"), 503, "UNAVAILABLE")
    proxy.up()
    assert client.get_blob(REPO, digest).content == blob  # recovered, without a restart
    assert client.push_blob_monolithic(REPO, b"once S3 is back").status_code == 201


def test_orphaned_multipart_uploads_are_gone_within_the_purge_interval(
    proxy: FaultProxy, s3_bucket: Callable[[], dict[str, str]], tmp_path: Path
) -> None:
    env = s3_env(s3_bucket, proxy, DOCKYARD_UPLOADS__STALE_AFTER_SECONDS="4")
    bucket = ServerBucket.of(env)
    # S3 starts the multipart copy into the blob's key, but its answer is lost: the retry starts a
    # second one, and the first is left in the bucket, where nothing names it.
    proxy.add("POST", f"/{bucket.bucket}/blobs/*", Reset(forward=True), query="uploads*", times=1)
    blob = seeded("orphan", 12 * MIB)
    try:
        with DockyardServer(tmp_path / "data", env=env) as server, RegistryClient(server.url, timeout=120) as client:
            done = push_in_chunks(client, blob, int(PART))
            assert done.status_code == 201, done.text
            abandoned = client.open_session(REPO)
            assert client.patch(abandoned, blob[: 6 * MIB]).status_code == 202

            def multipart_uploads() -> list[str]:
                listed = bucket.admin.list_multipart_uploads(Bucket=bucket.bucket)
                return [upload["Key"] for upload in listed.get("Uploads", [])]

            wait_until(lambda: not multipart_uploads(), 60, lambda: f"left in the bucket: {multipart_uploads()}")
            wait_until(lambda: not bucket.upload_ids(), 60, "the abandoned session's objects stayed")
            assert client.get_blob(REPO, digest_of(blob)).content == blob
    finally:
        proxy.clear()

"""Blob reads, range reads, deletes, digests and cross-repository dedupe."""

from __future__ import annotations

import hashlib

import pytest
from tests.http.ocitest import RegistryClient, assert_client_error, assert_error, digest_of, unused_digest

ALGORITHMS = ["sha256", "sha512"]
CONTENT = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable modulo 256


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_get_blob_serves_exact_bytes_with_digest_and_length(client: RegistryClient, repo: str, algorithm: str) -> None:
    digest = client.push_blob(repo, CONTENT, algorithm)
    response = client.get_blob(repo, digest)
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["docker-content-digest"] == digest
    assert int(response.headers["content-length"]) == len(CONTENT)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_head_blob_reports_length_and_digest_without_a_body(client: RegistryClient, repo: str, algorithm: str) -> None:
    digest = client.push_blob(repo, CONTENT, algorithm)
    response = client.head(client.blob_url(repo, digest))
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == len(CONTENT)
    assert response.headers["docker-content-digest"] == digest


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_empty_blob_round_trips(client: RegistryClient, repo: str, algorithm: str) -> None:
    digest = client.push_blob(repo, b"", algorithm)
    assert digest == digest_of(b"", algorithm)
    response = client.get_blob(repo, digest)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    head = client.head(client.blob_url(repo, digest))
    assert head.status_code == 200
    assert head.headers["content-length"] == "0"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unknown_blob_is_404_blob_unknown(client: RegistryClient, repo: str, algorithm: str) -> None:
    client.push_blob(repo, b"something so the repository exists")
    assert_error(client.get_blob(repo, unused_digest(algorithm)), 404, "BLOB_UNKNOWN")
    head = client.head(client.blob_url(repo, unused_digest(algorithm)))
    assert head.status_code == 404
    assert head.content == b""


def test_blob_in_unknown_repository_is_404_blob_unknown(client: RegistryClient, repo: str) -> None:
    assert_error(client.get_blob(repo + "/never-created", unused_digest()), 404, "BLOB_UNKNOWN")


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-99", 0, 99),
        ("bytes=100-199", 100, 199),
        ("bytes=10000-", 10000, len(CONTENT) - 1),
        ("bytes=-40", len(CONTENT) - 40, len(CONTENT) - 1),
        ("bytes=10200-999999", 10200, len(CONTENT) - 1),
        # Longer than int() converts (a 500 once): a last position past the end like any other.
        ("bytes=10-" + "9" * 5000, 10, len(CONTENT) - 1),
        ("bytes=-" + "9" * 5000, 0, len(CONTENT) - 1),
    ],
)
def test_satisfiable_range_is_206_with_content_range(
    client: RegistryClient, repo: str, range_header: str, start: int, end: int
) -> None:
    digest = client.push_blob(repo, CONTENT)
    response = client.get_blob(repo, digest, headers={"Range": range_header})
    assert response.status_code == 206, response.text
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(CONTENT)}"
    assert int(response.headers["content-length"]) == end - start + 1
    assert response.content == CONTENT[start : end + 1]


@pytest.mark.parametrize("range_header", ["bytes=10240-", "bytes=20000-20010", "bytes=10240-10240"])
def test_unsatisfiable_range_is_416_with_star_content_range(
    client: RegistryClient, repo: str, range_header: str
) -> None:
    digest = client.push_blob(repo, CONTENT)
    response = client.get_blob(repo, digest, headers={"Range": range_header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(CONTENT)}"
    assert int(response.headers.get("content-length", len(response.content))) == len(response.content)


@pytest.mark.parametrize(
    "range_header", ["bytes=abc-def", "bytes=5-2", "items=0-1", "bytes 0-1", "bytes=--1", "bytes=" + "9" * 5000 + "-"]
)
def test_malformed_range_is_never_a_server_error(client: RegistryClient, repo: str, range_header: str) -> None:
    digest = client.push_blob(repo, CONTENT)
    response = client.get_blob(repo, digest, headers={"Range": range_header})
    # RFC 9110 lets a server ignore an invalid Range (200 with the whole blob) or refuse it (416).
    assert response.status_code in (200, 416), response.text
    if response.status_code == 200:
        assert response.content == CONTENT


def test_range_on_empty_blob_is_416(client: RegistryClient, repo: str) -> None:
    digest = client.push_blob(repo, b"")
    response = client.get_blob(repo, digest, headers={"Range": "bytes=0-0"})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */0"


def test_delete_blob_is_202_and_then_unknown(client: RegistryClient, repo: str) -> None:
    digest = client.push_blob(repo, b"blob to delete")
    response = client.delete(client.blob_url(repo, digest))
    assert response.status_code == 202
    assert_error(client.get_blob(repo, digest), 404, "BLOB_UNKNOWN")
    assert client.head(client.blob_url(repo, digest)).status_code == 404
    assert_error(client.delete(client.blob_url(repo, digest)), 404, "BLOB_UNKNOWN")


def test_delete_unknown_blob_is_404_blob_unknown(client: RegistryClient, repo: str) -> None:
    client.push_blob(repo, b"repository exists")
    assert_error(client.delete(client.blob_url(repo, unused_digest())), 404, "BLOB_UNKNOWN")


def test_blob_is_readable_only_from_repositories_it_was_pushed_to(client: RegistryClient, repo: str) -> None:
    data = b"shared layer content"
    digest = client.push_blob(f"{repo}/one", data)
    client.push_blob(f"{repo}/other", b"unrelated")
    assert client.get_blob(f"{repo}/one", digest).content == data
    assert_error(client.get_blob(f"{repo}/other", digest), 404, "BLOB_UNKNOWN")


def test_identical_blobs_in_two_repositories_are_independent(client: RegistryClient, repo: str) -> None:
    data = b"deduplicated content" * 100
    digest = client.push_blob(f"{repo}/a", data)
    assert client.push_blob(f"{repo}/b", data) == digest
    assert client.delete(client.blob_url(f"{repo}/a", digest)).status_code == 202
    assert client.get_blob(f"{repo}/a", digest).status_code == 404
    response = client.get_blob(f"{repo}/b", digest)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == digest.split(":")[1]


@pytest.mark.parametrize(
    "bad_digest",
    [
        "sha256:totallywrong",
        "sha256:" + "a" * 63,
        "sha256:" + "A" * 64,
        "sha512:" + "b" * 64,
        "notadigest",
        "sha256:",
        ":" + "a" * 64,
    ],
)
def test_malformed_digest_in_blob_path_is_400_digest_invalid(
    client: RegistryClient, repo: str, bad_digest: str
) -> None:
    client.push_blob(repo, b"repository exists")
    response = client.get_blob(repo, bad_digest)
    assert_error(response, 400, "DIGEST_INVALID")
    assert_client_error(client.head(client.blob_url(repo, bad_digest)))
    assert_client_error(client.delete(client.blob_url(repo, bad_digest)))


def test_unsupported_digest_algorithm_is_a_client_error(client: RegistryClient, repo: str) -> None:
    client.push_blob(repo, b"repository exists")
    response = client.get_blob(repo, "md5:" + "0" * 32)
    assert_client_error(response)

"""Blob upload sessions: every upload style real clients use, mounts, status, cancel and errors."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator

import httpx
import pytest
from tests.http.ocitest import (
    RegistryClient,
    assert_client_error,
    assert_error,
    digest_of,
    unused_digest,
    upload_end,
)

BLOB = b"0123456789abcdefghijklmnopqrstuvwxyz" * 100  # 3600 bytes


def assert_blob_served(client: RegistryClient, repo: str, data: bytes, digest: str) -> None:
    response = client.get_blob(repo, digest)
    assert response.status_code == 200, response.text
    assert response.content == data
    assert response.headers["docker-content-digest"] == digest


def assert_created(response: httpx.Response, digest: str) -> None:
    assert response.status_code == 201, f"{response.status_code} {response.text}"
    assert response.headers.get("location"), "201 without Location"
    assert response.headers.get("docker-content-digest") == digest


def stream(data: bytes, piece: int = 1000) -> Iterator[bytes]:
    for offset in range(0, len(data), piece):
        yield data[offset : offset + piece]


# -- opening a session ---------------------------------------------------------------------------


def test_post_opens_a_session_with_location_uuid_and_range(client: RegistryClient, repo: str) -> None:
    response = client.start_upload(repo)
    assert response.status_code == 202
    location = response.headers["location"]
    uuid = response.headers["docker-upload-uuid"]
    assert uuid
    assert uuid in location
    assert response.headers["range"] == "0-0"
    assert response.content == b""


def test_two_sessions_get_distinct_locations(client: RegistryClient, repo: str) -> None:
    assert client.open_session(repo) != client.open_session(repo)


def test_status_of_a_fresh_session_is_204_with_location_and_range(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    response = client.upload_status(location)
    assert response.status_code == 204
    assert response.headers["location"]
    assert response.headers["range"] == "0-0"
    assert response.headers["docker-upload-uuid"] in location


# -- the upload styles ---------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_monolithic_post_with_digest_creates_the_blob(client: RegistryClient, repo: str, algorithm: str) -> None:
    response = client.push_blob_monolithic(repo, BLOB, algorithm)
    digest = digest_of(BLOB, algorithm)
    assert_created(response, digest)
    assert_blob_served(client, repo, BLOB, digest)


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_post_then_put_with_body(client: RegistryClient, repo: str, algorithm: str) -> None:
    digest = digest_of(BLOB, algorithm)
    response = client.finish(client.open_session(repo), digest, BLOB)
    assert_created(response, digest)
    assert_blob_served(client, repo, BLOB, digest)


def test_post_patch_without_content_range_then_empty_put(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    patched = client.patch(location, BLOB)
    assert patched.status_code == 202, patched.text
    assert upload_end(patched) == len(BLOB) - 1
    assert patched.headers["location"]
    assert patched.headers["docker-upload-uuid"]
    digest = digest_of(BLOB)
    response = client.finish(patched.headers["location"], digest)
    assert_created(response, digest)
    assert_blob_served(client, repo, BLOB, digest)


def test_patch_with_chunked_transfer_encoding(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    patched = client.patch(location, stream(BLOB))
    assert patched.request.headers.get("transfer-encoding") == "chunked"
    assert patched.status_code == 202, patched.text
    assert upload_end(patched) == len(BLOB) - 1
    digest = digest_of(BLOB)
    assert_created(client.finish(patched.headers["location"], digest), digest)
    assert_blob_served(client, repo, BLOB, digest)


def test_put_with_chunked_transfer_encoding(client: RegistryClient, repo: str) -> None:
    digest = digest_of(BLOB)
    response = client.finish(client.open_session(repo), digest, stream(BLOB))
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert_created(response, digest)
    assert_blob_served(client, repo, BLOB, digest)


def test_monolithic_post_with_chunked_transfer_encoding(client: RegistryClient, repo: str) -> None:
    digest = digest_of(BLOB)
    response = client.http.post(
        f"/v2/{repo}/blobs/uploads/",
        params={"digest": digest},
        content=stream(BLOB),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert_created(response, digest)
    assert_blob_served(client, repo, BLOB, digest)


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("range_form", ["{start}-{end}", "bytes {start}-{end}"])
def test_chunked_patches_with_content_range(client: RegistryClient, repo: str, range_form: str, algorithm: str) -> None:
    location = client.open_session(repo)
    size = 1000
    for start in range(0, len(BLOB), size):
        chunk = BLOB[start : start + size]
        end = start + len(chunk) - 1
        response = client.patch(location, chunk, range_form.format(start=start, end=end), len(chunk))
        assert response.status_code == 202, response.text
        assert response.headers["range"] == f"0-{end}"
        location = response.headers["location"]
        status = client.upload_status(location)
        assert status.status_code == 204
        assert status.headers["range"] == f"0-{end}"
    digest = digest_of(BLOB, algorithm)
    assert_created(client.finish(location, digest), digest)
    assert_blob_served(client, repo, BLOB, digest)


def test_final_chunk_in_the_closing_put(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    first, last = BLOB[:2000], BLOB[2000:]
    response = client.patch(location, first, f"0-{len(first) - 1}", len(first))
    assert response.status_code == 202
    digest = digest_of(BLOB)
    closing = client.finish(
        response.headers["location"],
        digest,
        last,
        headers={"Content-Range": f"{len(first)}-{len(BLOB) - 1}"},
    )
    assert_created(closing, digest)
    assert_blob_served(client, repo, BLOB, digest)


def test_mixed_patches_then_put_with_remaining_body(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    response = client.patch(location, BLOB[:100])
    assert upload_end(response) == 99
    response = client.patch(response.headers["location"], stream(BLOB[100:2500]))
    assert upload_end(response) == 2499
    digest = digest_of(BLOB)
    assert_created(client.finish(response.headers["location"], digest, BLOB[2500:]), digest)
    assert_blob_served(client, repo, BLOB, digest)


def test_empty_blob_through_a_session(client: RegistryClient, repo: str) -> None:
    digest = digest_of(b"")
    assert_created(client.finish(client.open_session(repo), digest), digest)
    assert_blob_served(client, repo, b"", digest)


def test_pushing_an_existing_blob_again_succeeds(client: RegistryClient, repo: str) -> None:
    digest = client.push_blob(repo, BLOB)
    assert client.push_blob(repo, BLOB) == digest
    assert_created(client.push_blob_monolithic(repo, BLOB), digest)
    assert_blob_served(client, repo, BLOB, digest)


# -- ordering errors, status after errors --------------------------------------------------------


def test_out_of_order_chunk_is_416_with_current_range(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    first = client.patch(location, BLOB[:10], "0-9", 10)
    assert first.status_code == 202
    assert first.headers["range"] == "0-9"
    location = first.headers["location"]
    skipped = client.patch(location, BLOB[20:30], "20-29", 10)
    assert skipped.status_code == 416
    assert skipped.headers["range"] == "0-9"
    assert_error(skipped, 416, "BLOB_UPLOAD_INVALID")
    status = client.upload_status(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-9"
    resumed = client.patch(location, BLOB[10:], f"10-{len(BLOB) - 1}", len(BLOB) - 10)
    assert resumed.status_code == 202
    digest = digest_of(BLOB)
    assert_created(client.finish(resumed.headers["location"], digest), digest)
    assert_blob_served(client, repo, BLOB, digest)


def test_first_chunk_not_starting_at_zero_is_416(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    response = client.patch(location, BLOB[10:20], "10-19", 10)
    assert response.status_code == 416
    assert client.upload_status(location).status_code == 204


def test_repeated_chunk_is_416_and_does_not_corrupt_the_upload(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    first = client.patch(location, BLOB[:10], "0-9", 10)
    again = client.patch(first.headers["location"], BLOB[:10], "0-9", 10)
    assert again.status_code == 416
    assert again.headers["range"] == "0-9"
    rest = client.patch(first.headers["location"], BLOB[10:], f"10-{len(BLOB) - 1}", len(BLOB) - 10)
    assert rest.status_code == 202
    digest = digest_of(BLOB)
    assert_created(client.finish(rest.headers["location"], digest), digest)
    assert_blob_served(client, repo, BLOB, digest)


def test_content_range_not_matching_the_body_length_is_rejected(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    response = client.patch(location, BLOB[:10], "0-99", 10)
    assert response.status_code in (400, 416), response.text
    status = client.upload_status(location)
    assert status.status_code == 204
    assert status.headers["range"] == "0-0"


@pytest.mark.parametrize("content_range", ["garbage", "5-2", "-1-4", "0-", "0-9/10x"])
def test_malformed_content_range_is_a_client_error(client: RegistryClient, repo: str, content_range: str) -> None:
    location = client.open_session(repo)
    response = client.patch(location, BLOB[:10], content_range, 10)
    assert response.status_code in (400, 416), response.text
    assert_client_error(response)
    assert client.upload_status(location).status_code == 204


# -- completion errors ---------------------------------------------------------------------------


def test_put_with_wrong_digest_is_400_digest_invalid(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    response = client.finish(location, digest_of(b"something else"), BLOB)
    assert_error(response, 400, "DIGEST_INVALID")
    assert_error(client.get_blob(repo, digest_of(BLOB)), 404, "BLOB_UNKNOWN")
    assert client.get_blob(repo, digest_of(b"something else")).status_code == 404


def test_monolithic_post_with_wrong_digest_is_400_digest_invalid(client: RegistryClient, repo: str) -> None:
    response = client.http.post(
        f"/v2/{repo}/blobs/uploads/",
        params={"digest": digest_of(b"other")},
        content=BLOB,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert_error(response, 400, "DIGEST_INVALID")
    assert client.get_blob(repo, digest_of(b"other")).status_code == 404


def test_put_without_digest_is_a_client_error(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    response = client.http.put(location, content=BLOB)
    assert_error(response, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("bad", ["sha256:nothex", "sha256:" + "0" * 10, "nope"])
def test_put_with_malformed_digest_is_400_digest_invalid(client: RegistryClient, repo: str, bad: str) -> None:
    response = client.finish(client.open_session(repo), bad, BLOB)
    assert_error(response, 400, "DIGEST_INVALID")


def test_completed_upload_location_is_no_longer_valid(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    digest = digest_of(BLOB)
    assert client.finish(location, digest, BLOB).status_code == 201
    assert_error(client.upload_status(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.patch(location, b"more"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_blob_served(client, repo, BLOB, digest)


# -- cancel and unknown sessions -----------------------------------------------------------------


def test_delete_cancels_the_session(client: RegistryClient, repo: str) -> None:
    location = client.patch(client.open_session(repo), BLOB[:100]).headers["location"]
    response = client.delete(location)
    assert response.status_code == 204
    assert_error(client.upload_status(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(client.finish(location, digest_of(BLOB[:100])), 404, "BLOB_UPLOAD_UNKNOWN")
    assert client.get_blob(repo, digest_of(BLOB[:100])).status_code == 404


def test_unknown_session_is_404_blob_upload_unknown(client: RegistryClient, repo: str) -> None:
    client.open_session(repo)
    bogus = f"/v2/{repo}/blobs/uploads/{uuidlib.uuid4()}"
    for response in (
        client.upload_status(bogus),
        client.patch(bogus, b"data"),
        client.finish(bogus, digest_of(b"data"), b"data"),
        client.delete(bogus),
    ):
        assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")


def test_session_belongs_to_its_repository(client: RegistryClient, repo: str) -> None:
    location = client.open_session(f"{repo}/a")
    uuid = client.start_upload(f"{repo}/a").headers["docker-upload-uuid"]
    client.open_session(f"{repo}/b")
    response = client.upload_status(f"/v2/{repo}/b/blobs/uploads/{uuid}")
    assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")
    assert client.upload_status(location).status_code == 204


@pytest.mark.parametrize("uuid", ["..", "..%2F..%2Fetc", "%2e%2e", "a" * 300, "not a uuid"])
def test_malformed_session_ids_are_client_errors(client: RegistryClient, repo: str, uuid: str) -> None:
    client.open_session(repo)
    assert_client_error(client.upload_status(f"/v2/{repo}/blobs/uploads/{uuid}"))
    assert_client_error(client.patch(f"/v2/{repo}/blobs/uploads/{uuid}", b"x"))


def test_upload_url_stays_valid_across_many_requests(client: RegistryClient, repo: str) -> None:
    location = client.open_session(repo)
    original = location
    for start in range(0, 500, 50):
        response = client.patch(location, BLOB[start : start + 50], f"{start}-{start + 49}", 50)
        assert response.status_code == 202
        location = response.headers["location"]
    # The very first Location still names the same session.
    status = client.upload_status(original)
    assert status.status_code == 204
    assert status.headers["range"] == "0-499"


# -- mounts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_mount_from_a_repository_holding_the_blob_is_201(client: RegistryClient, repo: str, algorithm: str) -> None:
    digest = client.push_blob(f"{repo}/source", BLOB, algorithm)
    response = client.start_upload(f"{repo}/target", mount=digest, **{"from": f"{repo}/source"})
    assert_created(response, digest)
    assert_blob_served(client, f"{repo}/target", BLOB, digest)


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_mount_of_a_blob_the_source_lacks_opens_a_session(client: RegistryClient, repo: str, algorithm: str) -> None:
    client.push_blob(f"{repo}/source", b"something else")
    digest = unused_digest(algorithm)
    response = client.start_upload(f"{repo}/target", mount=digest, **{"from": f"{repo}/source"})
    assert response.status_code == 202
    assert response.headers["location"]
    assert client.get_blob(f"{repo}/target", digest).status_code == 404
    # The session is a normal one: the blob can be pushed through it.
    data = b"pushed after a failed mount"
    assert client.finish(response.headers["location"], digest_of(data), data).status_code == 201


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_mount_from_a_source_lacking_the_blob_finds_another_holder(
    client: RegistryClient, repo: str, algorithm: str
) -> None:
    digest = client.push_blob(f"{repo}/holder", BLOB, algorithm)
    client.push_blob(f"{repo}/source", b"unrelated")
    response = client.start_upload(f"{repo}/target", mount=digest, **{"from": f"{repo}/source"})
    assert_created(response, digest)
    assert_blob_served(client, f"{repo}/target", BLOB, digest)


def test_mount_from_unknown_repository_opens_a_session(client: RegistryClient, repo: str) -> None:
    response = client.start_upload(repo, mount=unused_digest(), **{"from": f"{repo}/nowhere"})
    assert response.status_code == 202
    assert client.upload_status(response.headers["location"]).status_code == 204


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_mount_without_from_of_a_known_blob_is_201(client: RegistryClient, repo: str, algorithm: str) -> None:
    digest = client.push_blob(f"{repo}/source", BLOB, algorithm)
    response = client.start_upload(f"{repo}/target", mount=digest)
    assert_created(response, digest)
    assert_blob_served(client, f"{repo}/target", BLOB, digest)


def test_mount_without_from_of_an_unknown_blob_opens_a_session(client: RegistryClient, repo: str) -> None:
    response = client.start_upload(repo, mount=unused_digest())
    assert response.status_code == 202
    assert response.headers["location"]


def test_mount_with_malformed_digest_is_a_client_error(client: RegistryClient, repo: str) -> None:
    client.push_blob(f"{repo}/source", BLOB)
    response = client.start_upload(f"{repo}/target", mount="sha256:zz", **{"from": f"{repo}/source"})
    assert_client_error(response)


# -- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["UPPER/case", "a//b", "-leading", "trailing-", "a..b", "x" * 256, "a/" * 128 + "b"],
    ids=[
        "upper",
        "double-slash",
        "leading-sep",
        "trailing-sep",
        "double-dot",
        "too-long",
        "too-long-components",
    ],
)
def test_invalid_repository_name_on_push_is_400_name_invalid(client: RegistryClient, name: str) -> None:
    assert_error(client.start_upload(name), 400, "NAME_INVALID")


def test_longest_valid_name_is_accepted(client: RegistryClient, repo: str) -> None:
    name = (repo + "/" + "n" * 300)[:255]
    assert not name.endswith("/")
    assert client.start_upload(name).status_code == 202


@pytest.mark.parametrize("suffix", ["a__b", "c--d", "e.f_g/h-i", "0/1/2/3", "x___y"])
def test_name_forms_the_grammar_allows_or_rejects(client: RegistryClient, repo: str, suffix: str) -> None:
    response = client.start_upload(f"{repo}/{suffix}")
    if "___" in suffix:
        assert_error(response, 400, "NAME_INVALID")
    else:
        assert response.status_code == 202, response.text

"""python-dxf against dockyard: blobs up and down, tags with n/last pagination, cross-repository
mount, deletes, and the catalog."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import dxf
import httpx
import pytest
import requests
from tests.interop.clients import Target
from tests.interop.harness import sha256_digest

pytestmark = pytest.mark.interop

CALL_TIMEOUT = 60.0


def client(target: Target, name: str) -> dxf.DXF:
    return dxf.DXF(target.host, name, insecure=True, timeout=CALL_TIMEOUT)


def pull(d: dxf.DXF, digest: str) -> bytes:
    return b"".join(d.pull_blob(digest))


def test_dxf_blobs_mount_delete_catalog(
    target: Target,
    repo: Callable[[str], str],
    scratch: Path,
    http: httpx.Client,
    report: Callable[[str, str], None],
) -> None:
    first_name, second_name = repo("first"), repo("second")
    first, second = client(target, first_name), client(target, second_name)

    # Blob push from a file and from an iterator of chunks; pull both back.
    big = bytes(range(256)) * 4096 + b"tail"
    (scratch / "blob.bin").write_bytes(big)
    with target.meter.measure() as traffic:
        file_digest = first.push_blob(str(scratch / "blob.bin"))
    report("python-dxf push upload style", traffic.describe_style())
    assert file_digest == sha256_digest(big)
    if target.meter.available:
        assert traffic.uploads == 1, traffic.describe_style()
    chunks = [b"chunk-one|", b"chunk-two|" * 1000, b"chunk-three"]
    stream_digest = "sha256:" + hashlib.sha256(b"".join(chunks)).hexdigest()
    assert first.push_blob(data=iter(chunks), digest=stream_digest) == stream_digest
    assert pull(first, file_digest) == big
    assert pull(first, stream_digest) == b"".join(chunks)
    # A zero-length blob is a blob like any other (PUT with Content-Length: 0).
    (scratch / "empty").write_bytes(b"")
    empty_digest = first.push_blob(str(scratch / "empty"))
    assert empty_digest == sha256_digest(b"")
    assert pull(first, empty_digest) == b""
    assert first.blob_size(empty_digest) == 0
    assert first.blob_size(file_digest) == len(big)
    # Pushing what is already there is a HEAD, no upload.
    with target.meter.measure() as again:
        first.push_blob(str(scratch / "blob.bin"))
    if target.meter.available:
        assert again.count(route="upload_start") == 0, again.describe_style()

    # Mount into a second repository: no bytes move.
    with target.meter.measure() as mount:
        assert second.mount_blob(first_name, file_digest) == file_digest
    if target.meter.available:
        assert mount.mounts == 1, mount.describe_style()
        assert mount.uploads == 0, mount.describe_style()
    assert pull(second, file_digest) == big
    # A mount of a blob the source repository does not hold is not a mount: the registry must
    # not answer 201 (it may start an ordinary upload instead, 202).
    missing = sha256_digest(b"never pushed anywhere")
    with pytest.raises(dxf.exceptions.DXFMountFailed):
        second.mount_blob(first_name, missing)

    # Deleting a blob makes it unknown in that repository only.
    second.del_blob(file_digest)
    with pytest.raises(requests.HTTPError) as err:
        pull(second, file_digest)
    assert err.value.response is not None
    assert err.value.response.status_code == 404
    # The first repository's link to the same content is untouched.
    assert pull(first, file_digest) == big

    # Catalog, whole and page by page, has both repositories exactly once.
    base = dxf.DXFBase(target.host, insecure=True, timeout=CALL_TIMEOUT)
    whole = list(base.list_repos())
    paged = list(base.list_repos(batch_size=3))
    assert first_name in whole
    assert second_name in whole
    assert paged == whole
    assert whole == sorted(whole)


def test_dxf_tags_delete_and_pagination(target: Target, repo: Callable[[str], str], http: httpx.Client) -> None:
    name = repo("tags")
    first = client(target, name)
    # Six tags, each on a manifest of its own (dxf writes schema 2 manifests).
    tag_blobs: dict[str, str] = {}
    for i in range(1, 7):
        data = f"tag blob {i}".encode()
        digest = first.push_blob(data=iter([data]), digest=sha256_digest(data))
        first.set_alias(f"t{i}", digest)
        tag_blobs[f"t{i}"] = digest
    assert sorted(first.list_aliases()) == ["t1", "t2", "t3", "t4", "t5", "t6"]
    assert first.get_alias("t3") == [tag_blobs["t3"]]

    # Deleting one tag's manifest leaves the other tags.
    assert first.del_alias("t6") == [tag_blobs["t6"]]
    assert sorted(first.list_aliases()) == ["t1", "t2", "t3", "t4", "t5"]
    with pytest.raises(requests.HTTPError) as err:
        first.get_alias("t6")
    assert err.value.response is not None
    assert err.value.response.status_code == 404

    page = http.get(f"/v2/{name}/tags/list", params={"n": 2})
    if len(page.json().get("tags") or []) > 2 and not target.dockyard:
        pytest.xfail(f"the external registry ignores n on tags/list: {page.text[:200]}")
    # dxf follows the Link header page by page; tags come in lexical order.
    assert list(first.list_aliases(batch_size=2)) == ["t1", "t2", "t3", "t4", "t5"]

    # The same pagination, spelled out: n and last, and the Link to the next page.
    page = http.get(f"/v2/{name}/tags/list", params={"n": 2})
    assert page.status_code == 200
    assert page.json() == {"name": name, "tags": ["t1", "t2"]}
    assert 'rel="next"' in page.headers.get("link", ""), page.headers
    assert "last=t2" in page.headers["link"]
    page = http.get(f"/v2/{name}/tags/list", params={"n": 2, "last": "t2"})
    assert page.json()["tags"] == ["t3", "t4"]
    page = http.get(f"/v2/{name}/tags/list", params={"n": 2, "last": "t4"})
    assert page.json()["tags"] == ["t5"]
    assert "link" not in page.headers

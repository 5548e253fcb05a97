"""Push with the client, pull with the client, byte for byte: against Distribution 2.8.2 (no auth, no
referrers API) and dockyard (token flow, referrers API)."""

from __future__ import annotations

import os
import uuid

import pytest
from tests.http.ocitest import OCI_INDEX, OCI_MANIFEST
from tests.remote.conftest import Remote
from tests.remote.support import Distribution, artifact, factory, image, index_of, pull_blob, push, run

from dockyard.core.digest import Digest
from dockyard.core.errors import RegistryError
from dockyard.remote import RemoteClient, RemoteCounters, RemoteNotFound, RemoteSettings
from dockyard.remote.pull import referrers_tag


def fresh(prefix: str) -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


def test_image_round_trip(remote: Remote) -> None:
    repository = fresh("roundtrip")
    item = image(repository)

    async def scenario() -> None:
        async with RemoteClient(remote.settings) as client:
            await client.check()
            pushed = await push(client, repository, item, "v1")
            assert pushed == item.digest
            head = await client.head_manifest(repository, "v1")
            assert head == (item.digest, OCI_MANIFEST, len(item.manifest))
            by_tag = await client.get_manifest(repository, "v1")
            by_digest = await client.get_manifest(repository, str(item.digest))
            assert by_tag == by_digest == (item.digest, OCI_MANIFEST, item.manifest)
            for digest, data in item.blobs.items():
                assert await client.head_blob(repository, digest) == len(data)
                assert await pull_blob(client, repository, digest) == data
            assert await client.list_tags(repository) == ["v1"]

    run(scenario())


def test_ranged_blob_download(remote: Remote) -> None:
    repository = fresh("ranged")
    data = os.urandom(300_000)
    digest = Digest.of(data)

    async def scenario() -> None:
        async with RemoteClient(remote.settings) as client:
            await client.upload_blob(repository, digest, len(data), factory(data))
            async with client.get_blob(repository, digest, start=123_456) as stream:
                assert (stream.size, stream.total) == (len(data) - 123_456, len(data))
                tail = b"".join([chunk async for chunk in stream.chunks])
            assert tail == data[123_456:]
            assert await pull_blob(client, repository, digest, start=len(data) - 1) == data[-1:]

    run(scenario())


def test_chunked_upload(remote: Remote) -> None:
    repository = fresh("chunked")
    data = os.urandom(5 * 1024 * 1024 + 17)
    digest = Digest.of(data)
    counters = RemoteCounters()

    async def scenario() -> None:
        async with RemoteClient(remote.settings, counters) as client:
            await client.upload_blob(repository, digest, len(data), factory(data), chunk_size=1024 * 1024)
            assert await pull_blob(client, repository, digest) == data

    run(scenario())
    assert counters.requests[("PATCH", 202)] == 6
    assert counters.sent == len(data)


def test_one_byte_chunks_and_empty_blobs(remote: Remote) -> None:
    """The smallest cases: chunks of one byte (a session holding one byte reads `0-0`, like an empty
    one), and an empty blob."""
    repository = fresh("tiny")

    async def scenario() -> None:
        async with RemoteClient(remote.settings) as client:
            for data, chunk_size in ((b"abc", 1), (b"", 1), (b"", None)):
                digest = Digest.of(data)
                await client.upload_blob(repository, digest, len(data), factory(data), chunk_size=chunk_size)
                assert await client.head_blob(repository, digest) == len(data)
                assert await pull_blob(client, repository, digest) == data

    run(scenario())


def test_index_with_children(remote: Remote) -> None:
    repository = fresh("index")
    children = [image(f"{repository}-{arch}") for arch in ("amd64", "arm64", "s390x")]
    index = index_of(children)

    async def scenario() -> None:
        async with RemoteClient(remote.settings) as client:
            for child in children:
                await push(client, repository, child)
            await push(client, repository, index, "multi")
            fetched = await client.get_manifest(repository, "multi")
            assert fetched == (index.digest, OCI_INDEX, index.manifest)
            for child in children:
                assert (await client.get_manifest(repository, child.digest)).body == child.manifest
                for digest, data in child.blobs.items():
                    assert await pull_blob(client, repository, digest) == data

    run(scenario())


def test_artifacts_and_referrers(remote: Remote) -> None:
    repository = fresh("referrers")
    subject = image(repository)
    signature = artifact(subject, "application/vnd.example.signature", b"signed")
    sbom = artifact(subject, "application/vnd.example.sbom", b"sbom")

    async def scenario() -> None:
        async with RemoteClient(remote.settings) as client:
            await push(client, repository, subject, "v1")
            assert await client.referrers(repository, subject.digest) == []
            for item in (signature, sbom):
                await push(client, repository, item)
            found = await client.referrers(repository, subject.digest)
            assert {(str(d.digest), d.size, d.artifact_type) for d in found} == {
                (str(signature.digest), len(signature.manifest), "application/vnd.example.signature"),
                (str(sbom.digest), len(sbom.manifest), "application/vnd.example.sbom"),
            }
            only = await client.referrers(repository, subject.digest, "application/vnd.example.sbom")
            assert [d.digest for d in only] == [sbom.digest]
            assert only[0].annotations == {"org.example.note": "application/vnd.example.sbom"}
            assert (await client.get_manifest(repository, signature.digest)).body == signature.manifest
            # Pushing again does not list a referrer twice (the tag-schema fallback checks first).
            await push(client, repository, sbom)
            assert len(await client.referrers(repository, subject.digest)) == 2
            # Only a remote without the referrers API gets the tag-schema fallback.
            tags = await client.list_tags(repository)
            assert (referrers_tag(subject.digest) in tags) is not remote.referrers_api

    run(scenario())


def test_tags_follow_pagination(remote: Remote) -> None:
    repository = fresh("paged")
    item = image(repository)
    tags = [f"t{number}" for number in range(7)]

    async def scenario() -> None:
        async with RemoteClient(remote.settings) as client:
            for tag in tags:
                await push(client, repository, item, tag)
            assert await client.list_tags(repository, n=2) == tags
            assert await client.list_tags(repository, n=3, last="t2") == tags[3:]
            assert await client.list_tags(repository) == tags

    run(scenario())


def test_mount_blob(remote: Remote) -> None:
    source, target = fresh("mount"), fresh("mount")
    data = os.urandom(10_000)
    digest = Digest.of(data)

    async def scenario() -> None:
        async with RemoteClient(remote.settings) as client:
            await client.upload_blob(source, digest, len(data), factory(data))
            assert await client.mount_blob(target, digest, source) is True
            assert await client.head_blob(target, digest) == len(data)
            missing = Digest.of(b"never pushed anywhere")
            assert await client.mount_blob(target, missing, source) is False
            assert await client.head_blob(target, missing) is None

    run(scenario())


def test_missing_things_are_not_found(remote: Remote) -> None:
    repository = fresh("missing")
    item = image(repository)

    async def scenario() -> None:
        async with RemoteClient(remote.settings) as client:
            with pytest.raises(RemoteNotFound):
                await client.get_manifest(repository, "nope")
            with pytest.raises(RemoteNotFound):
                await client.head_manifest(repository, item.digest)
            with pytest.raises(RemoteNotFound) as error:
                await pull_blob(client, repository, Digest.of(b"absent"))
            assert error.value.status == 404
            assert await client.head_blob(repository, Digest.of(b"absent")) is None

    run(scenario())


def test_deletes(remote: Remote) -> None:
    repository = fresh("deletes")
    item = image(repository)

    async def scenario() -> None:
        async with RemoteClient(remote.settings) as client:
            await push(client, repository, item, "v1")
            await push(client, repository, item, "v2")
            assert await client.delete_tag(repository, "v1") is remote.deletes_tags
            assert await client.list_tags(repository) == (["v2"] if remote.deletes_tags else ["v1", "v2"])
            assert (await client.get_manifest(repository, item.digest)).body == item.manifest
            await client.delete_manifest(repository, item.digest)
            with pytest.raises(RemoteNotFound):
                await client.get_manifest(repository, item.digest)

    run(scenario())


@pytest.mark.parametrize(
    ("repository", "reference"),
    [
        ("../etc", "latest"),
        ("a/../../b", "latest"),
        ("UPPER", "latest"),
        ("ok", "../../x"),
        ("ok", "tag?x=1"),
        ("ok", "sha256:not-a-digest"),
        ("ok", "sha256:" + "a" * 63),
    ],
)
def test_invalid_input_never_reaches_a_url(distribution: Distribution, repository: str, reference: str) -> None:
    counters = RemoteCounters()

    async def scenario() -> None:
        async with RemoteClient(RemoteSettings(distribution.url), counters) as client:
            with pytest.raises(RegistryError):
                await client.get_manifest(repository, reference)
            with pytest.raises(RegistryError):
                await client.put_manifest(repository, reference, OCI_MANIFEST, b"{}")
            with pytest.raises(RegistryError):
                await client.head_blob(repository, reference)

    run(scenario())
    assert sum(counters.requests.values()) == 0

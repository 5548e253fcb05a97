"""The referrers API: listing manifests whose subject is a digest, with and without a filter."""

from __future__ import annotations

import json

import pytest
from tests.http.ocitest import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    Pushed,
    RegistryClient,
    assert_error,
    descriptor,
    image_manifest,
    index_manifest,
    unused_digest,
)

SBOM = "application/vnd.example.sbom.v1"
SIGNATURE = "application/vnd.example.signature.v1"


def referrer_index(client: RegistryClient, repo: str, digest: str, **params: str) -> tuple[dict, dict[str, str]]:
    response = client.referrers(repo, digest, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == OCI_INDEX
    index = response.json()
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == OCI_INDEX
    return index, dict(response.headers)


def by_digest(index: dict) -> dict[str, dict]:
    entries = {entry["digest"]: entry for entry in index["manifests"]}
    assert len(entries) == len(index["manifests"]), "duplicate referrer descriptors"
    return entries


@pytest.fixture
def subject_with_referrers(client: RegistryClient, repo: str) -> tuple[Pushed, list[Pushed], Pushed, Pushed]:
    subject = client.push_image(repo, "subject")
    sboms = [
        client.push_artifact(
            repo, subject, SBOM, annotations={"org.example.n": str(number)}, payload=f"sbom {number}".encode()
        )
        for number in range(2)
    ]
    signature = client.push_artifact(
        repo, subject, SIGNATURE, annotations={"org.example.key": "k1"}, payload=b"signature"
    )
    # A referrer without artifactType: its config media type stands in.
    config = b'{"kind":"attestation-config"}'
    client.push_blob(repo, config)
    plain_body = image_manifest(
        descriptor(config, "application/vnd.example.config.v1+json"), [], subject=subject.descriptor()
    )
    plain = client.push_manifest(repo, None, plain_body)
    return subject, sboms, signature, plain


def test_unknown_digest_has_an_empty_index(client: RegistryClient, repo: str) -> None:
    client.push_image(repo, "something")
    index, _ = referrer_index(client, repo, unused_digest())
    assert index["manifests"] == []


def test_unknown_sha512_digest_has_an_empty_index(client: RegistryClient, repo: str) -> None:
    client.push_image(repo, "something")
    index, _ = referrer_index(client, repo, unused_digest("sha512"))
    assert index["manifests"] == []


def test_referrers_list_descriptors_with_artifact_type_and_annotations(
    client: RegistryClient, repo: str, subject_with_referrers: tuple[Pushed, list[Pushed], Pushed, Pushed]
) -> None:
    subject, sboms, signature, plain = subject_with_referrers
    index, headers = referrer_index(client, repo, subject.digest)
    assert "oci-filters-applied" not in {key.lower() for key in headers}
    entries = by_digest(index)
    assert set(entries) == {m.digest for m in [*sboms, signature, plain]}
    for pushed in [*sboms, signature, plain]:
        entry = entries[pushed.digest]
        manifest = json.loads(pushed.body)
        assert entry["mediaType"] == OCI_MANIFEST
        assert entry["size"] == len(pushed.body)
        expected_type = manifest.get("artifactType") or manifest["config"]["mediaType"]
        assert entry["artifactType"] == expected_type
        assert entry.get("annotations", {}) == manifest.get("annotations", {})


def test_artifact_type_filter(
    client: RegistryClient, repo: str, subject_with_referrers: tuple[Pushed, list[Pushed], Pushed, Pushed]
) -> None:
    subject, sboms, _, _ = subject_with_referrers
    index, headers = referrer_index(client, repo, subject.digest, artifactType=SBOM)
    assert {key.lower(): value for key, value in headers.items()}["oci-filters-applied"] == "artifactType"
    assert set(by_digest(index)) == {m.digest for m in sboms}
    assert all(entry["artifactType"] == SBOM for entry in index["manifests"])


def test_filter_matching_nothing_is_an_empty_index(
    client: RegistryClient, repo: str, subject_with_referrers: tuple[Pushed, list[Pushed], Pushed, Pushed]
) -> None:
    subject, *_ = subject_with_referrers
    index, headers = referrer_index(client, repo, subject.digest, artifactType="application/vnd.none")
    assert index["manifests"] == []
    assert {key.lower(): value for key, value in headers.items()}["oci-filters-applied"] == "artifactType"


@pytest.mark.parametrize("artifact_type", ["application/vnd.example\x00", "", "x" * 5000, "\x7f"])
def test_filter_that_is_no_media_type_matches_nothing(
    client: RegistryClient,
    repo: str,
    subject_with_referrers: tuple[Pushed, list[Pushed], Pushed, Pushed],
    artifact_type: str,
) -> None:
    """No stored artifact type looks like this (a NUL was a 500 on PostgreSQL, which refuses it in text)."""
    subject, *_ = subject_with_referrers
    index, headers = referrer_index(client, repo, subject.digest, artifactType=artifact_type)
    assert index["manifests"] == []
    assert {key.lower(): value for key, value in headers.items()}["oci-filters-applied"] == "artifactType"


def test_referrers_of_a_missing_subject_are_listed(client: RegistryClient, repo: str) -> None:
    absent = Pushed(b'{"never":"pushed"}', OCI_MANIFEST, unused_digest())
    referrer = client.push_artifact(repo, absent, SIGNATURE)
    index, _ = referrer_index(client, repo, absent.digest)
    assert [entry["digest"] for entry in index["manifests"]] == [referrer.digest]


def test_index_referrer_without_artifact_type_omits_it(client: RegistryClient, repo: str) -> None:
    subject = client.push_image(repo, "subject")
    child = client.push_image(repo, None, seed="child")
    body = index_manifest([child.descriptor()], subject=subject.descriptor(), annotations={"org.example.i": "1"})
    referrer = client.push_manifest(repo, None, body, OCI_INDEX)
    assert referrer.headers["oci-subject"] == subject.digest
    entry = by_digest(referrer_index(client, repo, subject.digest)[0])[referrer.digest]
    assert entry["mediaType"] == OCI_INDEX
    assert "artifactType" not in entry
    assert entry["annotations"] == {"org.example.i": "1"}


def test_referrers_are_per_repository(client: RegistryClient, repo: str) -> None:
    subject = client.push_image(f"{repo}/a", "subject")
    client.push_artifact(f"{repo}/a", subject, SBOM)
    client.push_image(f"{repo}/b", "other")
    index, _ = referrer_index(client, f"{repo}/b", subject.digest)
    assert index["manifests"] == []


def test_deleted_referrer_disappears(client: RegistryClient, repo: str) -> None:
    subject = client.push_image(repo, "subject")
    keep = client.push_artifact(repo, subject, SBOM, payload=b"keep")
    drop = client.push_artifact(repo, subject, SBOM, payload=b"drop")
    assert client.delete(f"/v2/{repo}/manifests/{drop.digest}").status_code == 202
    assert set(by_digest(referrer_index(client, repo, subject.digest)[0])) == {keep.digest}


def test_referrer_with_sha512_subject(client: RegistryClient, repo: str) -> None:
    config, layer = b'{"os":"linux"}', b"sha512 subject layer"
    client.push_blob(repo, config)
    client.push_blob(repo, layer)
    subject = client.push_manifest(
        repo,
        None,
        image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER)]),
        algorithm="sha512",
    )
    referrer = client.push_artifact(repo, subject, SBOM)
    assert referrer.headers["oci-subject"] == subject.digest
    assert [entry["digest"] for entry in referrer_index(client, repo, subject.digest)[0]["manifests"]] == [
        referrer.digest
    ]


@pytest.mark.parametrize("bad", ["sha256:nothex", "latest", "sha256:" + "0" * 63])
def test_malformed_digest_is_400(client: RegistryClient, repo: str, bad: str) -> None:
    client.push_image(repo, "something")
    assert_error(client.referrers(repo, bad), 400, "DIGEST_INVALID")

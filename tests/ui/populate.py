"""Content the UI tests browse: images with real-looking configs, a multi-arch index, an artifact
with referrers of referrers, many repositories and a repository with 10,000 tags."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tests.http.ocitest import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    Pushed,
    RegistryClient,
    descriptor,
    image_manifest,
    index_manifest,
)

SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
SBOM = "application/spdx+json"
BULK_REPOSITORY = "bulk/many-tags"
BULK_TAGS = 10_000
_TAGS_PER_REQUEST = 200


@dataclass
class Content:
    images: dict[str, Pushed] = field(default_factory=dict)
    index: Pushed | None = None
    children: dict[str, Pushed] = field(default_factory=dict)
    signature: Pushed | None = None
    sbom: Pushed | None = None
    sbom_signature: Pushed | None = None


def image_config(architecture: str, seed: str) -> bytes:
    return json.dumps(
        {
            "created": "2026-11-30T12:00:00Z",
            "architecture": architecture,
            "os": "linux",
            "config": {
                "Env": ["PATH=/usr/local/bin:/usr/bin"],
                "Cmd": ["/bin/sh"],
                "Labels": {"org.opencontainers.image.source": "https://example.com/" + seed},
            },
            "rootfs": {"type": "layers", "diff_ids": []},
            "history": [
                {"created": "2026-11-30T11:59:00Z", "created_by": f"ADD rootfs-{seed}.tar /"},
                {"created": "2026-11-30T12:00:00Z", "created_by": 'CMD ["/bin/sh"]', "empty_layer": True},
            ],
        }
    ).encode()


def push_image(client: RegistryClient, repo: str, tag: str | None, architecture: str = "amd64") -> Pushed:
    seed = f"{repo}:{tag}:{architecture}"
    config = image_config(architecture, seed)
    layer = f"layer of {seed}".encode() * 64
    client.push_blob(repo, config)
    client.push_blob(repo, layer)
    body = image_manifest(
        descriptor(config, OCI_CONFIG),
        [descriptor(layer, OCI_LAYER, annotations={"org.opencontainers.image.title": "rootfs.tar.gz"})],
        annotations={"org.opencontainers.image.description": f"{repo} for {architecture}"},
    )
    return client.push_manifest(repo, tag, body)


def tag_in_batches(client: RegistryClient, repo: str, manifest: Pushed, tags: list[str]) -> None:
    """Point many tags at one manifest, a few hundred per request (`PUT ...?tag=a&tag=b`)."""
    for start in range(0, len(tags), _TAGS_PER_REQUEST):
        batch = [("tag", tag) for tag in tags[start : start + _TAGS_PER_REQUEST]]
        response = client.put_manifest(repo, manifest.digest, manifest.body, params=batch)
        assert response.status_code == 201, response.text


def populate(client: RegistryClient) -> Content:
    content = Content()
    for repo, tag in (("library/alpine", "3.20"), ("library/alpine", "3.19"), ("library/busybox", "1.37")):
        content.images[f"{repo}:{tag}"] = push_image(client, repo, tag)
    for number in range(12):
        push_image(client, f"team/service-{number:02d}", "1.0")

    for architecture in ("amd64", "arm64"):
        content.children[architecture] = push_image(client, "team/multi", None, architecture)
    children = [
        content.children["amd64"].descriptor(platform={"os": "linux", "architecture": "amd64"}),
        content.children["arm64"].descriptor(platform={"os": "linux", "architecture": "arm64", "variant": "v8"}),
    ]
    content.index = client.push_manifest("team/multi", "latest", index_manifest(children), OCI_INDEX)

    signed = push_image(client, "team/signed", "v1")
    content.images["team/signed:v1"] = signed
    content.signature = client.push_artifact("team/signed", signed, SIGNATURE, payload=b"signature of v1")
    content.sbom = client.push_artifact(
        "team/signed", signed, SBOM, payload=b'{"spdxVersion":"SPDX-2.3"}', tag="v1-sbom"
    )
    content.sbom_signature = client.push_artifact("team/signed", content.sbom, SIGNATURE, payload=b"sbom signature")

    bulk = push_image(client, BULK_REPOSITORY, "seed")
    tag_in_batches(client, BULK_REPOSITORY, bulk, [f"build-{number:05d}" for number in range(BULK_TAGS)])
    return content

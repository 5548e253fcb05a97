"""Manual runs from the command line, beside the replicating server on its stores: a multi-arch index
with a signature copied whole to both kinds of target, then an unchanged re-run that sends nothing;
dry runs; and a target refusing us, its reason shown and its password nowhere."""

from __future__ import annotations

import pytest
from tests.remote.conftest import TokenDockyard
from tests.remote.support import Distribution
from tests.replication.conftest import Source
from tests.replication.support import (
    artifact,
    has_manifest,
    image,
    index_of,
    inventory,
    push_images,
    replicate,
    run,
    target,
    write_config,
)

from dockyard.remote import RemoteClient, RemoteSettings


async def referrer_digests(settings: RemoteSettings, repository: str, subject: str) -> list[str]:
    async with RemoteClient(settings) as client:
        return [str(found.digest) for found in await client.referrers(repository, subject)]


def test_an_index_with_its_signature_is_copied_whole_and_a_rerun_sends_nothing(
    source: Source, distribution: Distribution, token_dockyard: TokenDockyard
) -> None:
    token_user = token_dockyard.settings("admin")
    assert token_user.password is not None
    replication = {
        "targets": [
            target("dist", distribution.url),
            target("dr", token_dockyard.url, "admin", token_user.password.reveal()),
        ],
        "rules": [
            {"name": "copy-to-dist", "direction": "push", "target": "dist", "repositories": ["multi/**"]},
            {
                "name": "copy-to-dr",
                "direction": "push",
                "target": "dr",
                "repositories": ["multi/**"],
                "destination": "mirror/{repository}",
            },
        ],
    }
    config = write_config(source.directory, replication, "copy")
    children = [image(f"arch-{n}") for n in range(3)]
    index = index_of(children)
    signature = artifact(index, "application/vnd.dev.cosign.simplesigning.v1+json", b"signed")
    local = source.local
    push_images(local, "multi/app", *((child, None) for child in children), (index, "v1.0"), (signature, None))

    dry = replicate(config, "run", "copy-to-dist", "--dry-run")
    assert dry.code == 0, dry.stderr
    assert "1 manifests to copy" in dry.stdout
    assert inventory(RemoteSettings(distribution.url), "multi/app") == {}  # a dry run changes nothing

    for rule, settings, repository in (
        ("copy-to-dist", RemoteSettings(distribution.url), "multi/app"),
        ("copy-to-dr", token_user, "mirror/multi/app"),
    ):
        first = replicate(config, "run", rule)
        assert first.code == 0, first.stdout + first.stderr
        assert "succeeded" in first.stdout
        assert "manifests" in first.stderr
        assert inventory(settings, repository) == inventory(local, "multi/app") == {"v1.0": str(index.digest)}
        for manifest in (*children, signature):
            assert has_manifest(settings, repository, str(manifest.digest))
        assert run(referrer_digests(settings, repository, str(index.digest))) == [str(signature.digest)]

        again = replicate(config, "run", rule)
        assert again.code == 0, again.stdout + again.stderr
        assert ": succeeded" in again.stdout
        assert " 0 manifests, 0 blobs, 0 B " in again.stdout
        assert "0 manifests to copy, 1 up to date" in replicate(config, "run", rule, "--dry-run").stdout


def test_a_target_refusing_our_credentials_fails_the_run_with_the_reason(
    source: Source, token_dockyard: TokenDockyard, caplog: pytest.LogCaptureFixture
) -> None:
    replication = {
        "targets": [target("dr", token_dockyard.url, "admin", "not-the-password")],
        "rules": [{"name": "refused", "direction": "push", "target": "dr", "repositories": ["refused/app"]}],
    }
    config = write_config(source.directory, replication, "refused")
    push_images(source.local, "refused/app", (image("refused"), "1.0"))
    failed = replicate(config, "run", "refused")
    assert failed.code == 1
    assert "refused: failed" in failed.stdout
    assert "401" in failed.stdout
    assert "not-the-password" not in failed.stdout + failed.stderr + caplog.text
    status = replicate(config, "status")
    assert status.code == 1
    assert "failed" in status.stdout
    assert "401" in status.stdout

"""Each kind of event as a receiver sees it: Distribution's envelope, field by field."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.events.conftest import SECRET, StartServer, endpoint_config
from tests.events.receiver import Receiver
from tests.http.ocitest import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, RegistryClient, descriptor, image_manifest
from tests.support.backends import every_backend

from dockyard.auth.htpasswd import set_user

MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
BLOB = "application/octet-stream"


def _check_common(event: dict[str, Any], action: str, method: str, port: int) -> None:
    assert set(event) == {"id", "timestamp", "action", "target", "request", "actor", "source"}
    uuid.UUID(event["id"])
    assert datetime.fromisoformat(event["timestamp"]).tzinfo is not None
    assert event["timestamp"].endswith("Z")
    assert event["action"] == action
    request = event["request"]
    assert set(request) == {"id", "addr", "host", "method", "useragent"}
    assert request["method"] == method
    assert request["host"] == f"127.0.0.1:{port}"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", request["addr"])
    assert request["useragent"] == "events-test/1.0"
    assert request["id"]
    assert event["actor"] == {}  # anonymous
    assert set(event["source"]) == {"addr", "instanceID"}
    assert event["source"]["addr"].endswith(f":{port}")
    uuid.UUID(event["source"]["instanceID"])


@every_backend
def test_push_pull_mount_delete(start_server: StartServer, receiver: Receiver) -> None:
    server = start_server([endpoint_config(receiver)])
    base, repo, other = server.url, "events/app", "events/copy"
    with RegistryClient(base) as client:
        client.http.headers["user-agent"] = "events-test/1.0"
        layer = b"a layer the events test pushes"
        layer_digest = client.push_blob(repo, layer)
        pushed = client.push_image(repo, "v1")
        manifest_events = 3  # config + layer blobs, then the manifest
        assert client.get_manifest(repo, "v1").status_code == 200
        assert client.get_manifest(repo, pushed.digest).status_code == 200
        # Pulls reach the outbox a moment after the request (see events/pulls.py): wait for them,
        # so that the writes below come after them.
        receiver.wait_for(lambda events: len(events) >= 1 + manifest_events + 2)
        mounted = client.start_upload(other, mount=layer_digest, **{"from": repo})
        assert mounted.status_code == 201
        assert client.delete(f"/v2/{repo}/manifests/v1").status_code == 202
        assert client.delete(f"/v2/{repo}/manifests/{pushed.digest}").status_code == 202
        deleted = client.delete(f"/v2/{repo}/blobs/{layer_digest}", headers={"X-Request-Id": "req-from-client"})
        assert deleted.status_code == 202

    expected = 1 + manifest_events + 2 + 1 + 3
    events = receiver.wait_for(lambda events: len(events) >= expected)
    assert len(events) == expected
    for headers, _ in receiver.requests:
        assert headers["content-type"] == MEDIA_TYPE
        assert headers["authorization"] == SECRET

    blob_push, _, _, manifest_push, pull_tag, pull_digest, mount, tag_delete, manifest_delete, blob_delete = events
    _check_common(blob_push, "push", "PUT", server.port)
    assert blob_push["target"] == {
        "mediaType": BLOB,
        "digest": layer_digest,
        "size": len(layer),
        "length": len(layer),
        "repository": repo,
        "url": f"{base}/v2/{repo}/blobs/{layer_digest}",
    }

    _check_common(manifest_push, "push", "PUT", server.port)
    assert manifest_push["target"] == {
        "mediaType": OCI_MANIFEST,
        "digest": pushed.digest,
        "size": len(pushed.body),
        "length": len(pushed.body),
        "repository": repo,
        "url": f"{base}/v2/{repo}/manifests/{pushed.digest}",
        "tag": "v1",
    }

    _check_common(pull_tag, "pull", "GET", server.port)
    assert pull_tag["target"] == manifest_push["target"]
    _check_common(pull_digest, "pull", "GET", server.port)
    assert pull_digest["target"] == {k: v for k, v in manifest_push["target"].items() if k != "tag"}

    _check_common(mount, "mount", "POST", server.port)
    assert mount["target"] == {
        "mediaType": BLOB,
        "digest": layer_digest,
        "size": len(layer),
        "length": len(layer),
        "repository": other,
        "fromRepository": repo,
        "url": f"{base}/v2/{other}/blobs/{layer_digest}",
    }

    for deleted in (tag_delete, manifest_delete, blob_delete):
        _check_common(deleted, "delete", "DELETE", server.port)
    assert tag_delete["target"] == {"repository": repo, "tag": "v1"}
    assert manifest_delete["target"] == {"repository": repo, "digest": pushed.digest}
    assert blob_delete["target"] == {"repository": repo, "digest": layer_digest}
    assert blob_delete["request"]["id"] == "req-from-client"
    assert len({event["id"] for event in events}) == len(events)


def test_only_subscribed_actions_and_repositories(start_server: StartServer, receiver: Receiver) -> None:
    pushes_of_one_repository = endpoint_config(receiver, events=["push"], repositories=["events/wanted"])
    server = start_server([pushes_of_one_repository])
    with RegistryClient(server.url) as client:
        client.push_image("events/unwanted", "v1")
        client.push_image("other/unwanted", "v1")
        client.push_image("events/wanted", "v1")
        client.get_manifest("events/wanted", "v1")
        client.delete("/v2/events/wanted/manifests/v1")
        client.push_image("events/wanted", "v2")

    events = receiver.wait_for(lambda events: any(e["target"].get("tag") == "v2" for e in events))
    assert {e["target"]["repository"] for e in events} == {"events/wanted"}
    assert {e["action"] for e in events} == {"push"}
    assert [e["target"].get("tag") for e in events if e["target"]["mediaType"] == OCI_MANIFEST] == ["v1", "v2"]


def test_refused_writes_send_nothing(start_server: StartServer, receiver: Receiver) -> None:
    """The event is written with the change or not at all: refused writes leave no event."""
    server = start_server([endpoint_config(receiver, events=["push", "delete"])])
    repo = "events/refusals"
    with RegistryClient(server.url) as client:
        missing = descriptor(b"a layer nobody pushed", OCI_LAYER)
        orphan = image_manifest(descriptor(b"{}", OCI_CONFIG), [missing])
        assert client.put_manifest(repo, "broken", orphan).status_code == 400  # MANIFEST_BLOB_UNKNOWN
        assert client.delete(f"/v2/{repo}/manifests/never-pushed").status_code == 404
        assert client.delete(f"/v2/{repo}/blobs/{missing['digest']}").status_code == 404
        client.push_image(repo, "fine")

    events = receiver.wait_for(lambda events: any(e["target"].get("tag") == "fine" for e in events))
    assert [e["action"] for e in events] == ["push", "push", "push"]  # config, layer, manifest
    assert [e["target"].get("tag") for e in events] == [None, None, "fine"]


def test_actor_is_the_authenticated_user(start_server: StartServer, receiver: Receiver, tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    set_user(htpasswd, "alice", "alice-secret", cost=4)
    rules = [{"repositories": ["**"], "users": ["alice"], "actions": ["pull", "push", "delete"]}]
    server = start_server([endpoint_config(receiver)], auth={"htpasswd": str(htpasswd), "rules": rules})
    with RegistryClient(server.url) as client:
        client.http.auth = ("alice", "alice-secret")
        client.push_image("events/signed", "v1")
    events = receiver.wait_for(lambda events: len(events) >= 3)
    assert {json.dumps(e["actor"]) for e in events} == {'{"name": "alice"}'}

"""A scripted session against a real server leaves each recorded action in the audit log exactly
once, with the right actor, client and request id, and `dockyard audit` filters and exports it."""

from __future__ import annotations

import getpass
import time
from typing import Any

import httpx
from tests.audit.conftest import AuditedRegistry
from tests.auth.support import PASSWORDS, basic
from tests.http.ocitest import RegistryClient

REPO = "team/app"


def client_of(registry: AuditedRegistry, user: str) -> RegistryClient:
    client = RegistryClient(registry.url)
    client.http.auth = httpx.BasicAuth(user, PASSWORDS[user])
    return client


def only(entries: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """The one entry with these fields; fails when there are none or several."""
    found = [entry for entry in entries if all(entry[key] == value for key, value in fields.items())]
    assert len(found) == 1, f"{fields}: {len(found)} entries among {entries}"
    return found[0]


def test_a_scripted_session_is_recorded_once_per_action(registry_of_its_own: AuditedRegistry) -> None:
    registry = registry_of_its_own
    registry.server.start()
    started = time.time()
    with client_of(registry, "writer") as writer, client_of(registry, "tagger") as tagger:
        first = writer.push_image(REPO, "v1")
        moved = tagger.push_image(REPO, "v1", seed="another build")
        writer.push_image(REPO, "v2")
    with client_of(registry, "admin") as admin:
        assert admin.delete(f"/v2/{REPO}/manifests/v2").status_code == 202
        pulled = admin.get_manifest("team/audited-one", "latest")  # unknown: not a pull
        assert pulled.status_code == 404
        admin.push_image("team/audited-one", "latest")
        assert admin.get_manifest("team/audited-one", "latest").status_code == 200
        assert admin.get_manifest(REPO, "v1").status_code == 200  # not audited: no glob names it
    refused = httpx.get(f"{registry.url}/v2/", headers=basic("reader", "not the password"))
    assert refused.status_code == 401
    registry.dockyard("admin read-only", "on")
    registry.dockyard("admin read-only", "off")
    registry.dockyard("gc")
    registry.dockyard("user", "add", "newcomer", "--password-stdin", stdin="newcomer-secret\n")
    registry.dockyard("user", "logout", "writer")

    entries = registry.audit()
    # A tag's push: the pusher, the client's address, the request id its answer carried.
    push = only(entries, action="push", repository=REPO, tag="v1", digest=first.digest)
    assert push["actor"] == "writer"
    assert push["client"].startswith("127.0.0.1:")
    assert push["request_id"] == first.response.headers["x-request-id"]
    assert push["previous"] is None
    # Pushing another manifest to the tag moves it: the entry says from where.
    move = only(entries, action="push", repository=REPO, tag="v1", digest=moved.digest)
    assert (move["actor"], move["previous"]) == ("tagger", first.digest)
    assert only(entries, action="delete", repository=REPO, tag="v2")["actor"] == "admin"
    assert only(entries, action="pull", repository="team/audited-one")["actor"] == "admin"
    assert [entry for entry in entries if entry["action"] == "pull" and entry["repository"] == REPO] == []
    failure = only(entries, action="login-failed")
    assert (failure["actor"], failure["request_id"]) == ("reader", refused.headers["x-request-id"])
    assert "not the password" not in str(entries)
    operator = getpass.getuser()
    assert only(entries, action="read-only", detail="on")["actor"] == operator
    assert only(entries, action="read-only", detail="off")["actor"] == operator
    assert only(entries, action="gc")["actor"] == operator
    assert only(entries, action="user-add", detail="user newcomer")["actor"] == operator
    assert only(entries, action="user-logout", detail="user writer")["actor"] == operator
    assert "newcomer-secret" not in str(entries)
    # Blob uploads are parts of a push, not entries of their own.
    actions = {"push", "delete", "pull", "login-failed", "read-only", "gc", "user-add", "user-logout"}
    assert {entry["action"] for entry in entries} == actions
    assert all(entry["time"] >= time.strftime("%Y-%m-%dT%H:%M", time.gmtime(started - 60)) for entry in entries)

    # Filters, and the text form for people.
    assert registry.audit("--user", "tagger", "--since", "1h") == [move]
    in_repository = [entry for entry in entries if entry["repository"] == REPO]
    text = registry.dockyard("audit", "--repository", REPO).stdout.splitlines()
    assert len(text) == len(in_repository) == 4  # three pushes and a delete
    assert f"(moved from {first.digest})" in text[1]

    # The UI's API: the same log newest first, to administrators only.
    ui = f"{registry.url}/v2/_dockyard/audit"
    newest = httpx.get(ui, headers=basic("admin")).json()
    assert [entry["id"] for entry in newest["entries"]] == [entry["id"] for entry in reversed(entries)]
    assert newest["next"] is None
    older = httpx.get(ui, params={"before": str(move["id"]), "user": "writer"}, headers=basic("admin")).json()
    assert [entry["id"] for entry in older["entries"]] == [push["id"]]
    assert httpx.get(ui, headers=basic("writer")).status_code == 403
    assert httpx.get(ui).status_code == 401
    assert httpx.get(ui, params={"since": "last tuesday"}, headers=basic("admin")).status_code == 400

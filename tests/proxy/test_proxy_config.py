"""`dockyard config check` judges a proxy section: what makes an upstream unusable or the routes
ambiguous is named by its key before a server runs on it, and passwords never appear in the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dockyard.config.check import check as judge
from dockyard.config.proxy import Upstream
from dockyard.config.settings import CONFIG_FILE_ENV
from dockyard.remote import RemoteSettings

HUB = {"name": "hub", "url": "https://registry-1.docker.io"}


def check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxy: dict[str, Any], env: dict[str, str] | None = None
) -> list[str]:
    """The problems `dockyard config check` reports for a file with this proxy section."""
    config = tmp_path / "dockyard.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "proxy": proxy}))
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))  # check() sets it too; this restores it afterwards
    for variable, value in (env or {}).items():
        monkeypatch.setenv(variable, value)
    _, problems = judge(config)
    return [str(problem) for problem in problems]


def test_a_valid_section_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    upstreams = [
        {**HUB, "prefix": "hub", "namespaces": ["docker.io"], "default": True, "username": "u", "password": "p"},
        {"name": "ghcr", "url": "https://ghcr.io", "prefix": "", "namespaces": ["ghcr.io"]},
        {"name": "quay", "url": "https://quay.io", "keep_days": 0.5, "max_bytes": 10 << 30},
    ]
    assert check(tmp_path, monkeypatch, {"upstreams": upstreams, "lease_seconds": 10}) == []


@pytest.mark.parametrize(
    ("upstreams", "key", "words"),
    [
        ([HUB, {**HUB, "url": "https://mirror.gcr.io"}], "proxy", "upstream names must be distinct: hub"),
        ([{**HUB, "default": True}, {"name": "b", "url": "http://b", "default": True}], "proxy", "at most one"),
        ([{**HUB, "namespaces": ["docker.io"]}, {"name": "b", "url": "http://b", "namespaces": ["Docker.io"]}],
         "proxy", "namespaces must be distinct: docker.io"),
        ([{**HUB, "prefix": "x"}, {"name": "x", "url": "http://b"}], "proxy", "prefixes"),
        ([{**HUB, "prefix": "mirror"}, {"name": "b", "url": "http://b", "prefix": "mirror/b"}], "proxy", "inside"),
        ([{**HUB, "prefix": "Hub"}], "proxy.upstreams.0", "repository name components"),
        ([{**HUB, "prefix": ""}], "proxy.upstreams.0", "unreachable"),
        ([{**HUB, "namespaces": ["http://docker.io"]}], "proxy.upstreams.0", "registry host name"),
        ([{**HUB, "url": "ftp://registry-1.docker.io"}], "proxy.upstreams.0.url", "pattern"),
        ([{**HUB, "name": "Docker Hub"}], "proxy.upstreams.0.name", "pattern"),
        ([{**HUB, "username": "u"}], "proxy.upstreams.0", "go together"),
        ([{**HUB, "keep_days": 0}], "proxy.upstreams.0.keep_days", "greater than 0"),
        ([{**HUB, "tag_ttl_days": 1}], "proxy.upstreams.0.tag_ttl_days", "did you mean"),
    ],
)  # fmt: skip
def test_problems_are_named_by_their_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upstreams: list[dict[str, Any]], key: str, words: str
) -> None:
    problems = check(tmp_path, monkeypatch, {"upstreams": upstreams})
    assert any(line.startswith(f"{key}: ") and words in line for line in problems), problems


def test_a_password_is_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "hunter2-never-printed"
    upstreams = [{**HUB, "username": "u", "password": secret}, {**HUB, "username": "u", "password": secret}]
    problems = check(tmp_path, monkeypatch, {"upstreams": upstreams})
    assert problems
    assert not any(secret in problem for problem in problems)


def test_upstreams_come_from_the_environment_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"DOCKYARD_PROXY__UPSTREAMS": json.dumps([{**HUB, "namespaces": ["docker.io"]}])}
    assert check(tmp_path, monkeypatch, {}, env) == []
    config = tmp_path / "dockyard.yaml"
    settings, _ = judge(config)
    assert settings is not None
    assert [upstream.namespaces for upstream in settings.proxy.upstreams] == [["docker.io"]]


def test_docker_hub_gets_library_names_and_its_token_host() -> None:
    hub = Upstream(**HUB)
    other = Upstream(name="other", url="https://registry.example.net")
    assert (hub.adds_library, hub.local_prefix, other.adds_library, other.local_prefix) == (True, "hub", False, "other")
    assert RemoteSettings.of(hub).trusted_token_realms == ("auth.docker.io",)
    assert Upstream(**HUB, library_prefix=False).adds_library is False

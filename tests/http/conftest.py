"""Fixtures for the HTTP tests: a client bound to the registry and a repository name per test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from tests.http.ocitest import RegistryClient

if TYPE_CHECKING:
    from tests.conftest import Registry


def repo_name_for(node_name: str, prefix: str = "t") -> str:
    """A valid, unique repository name derived from the test's node name."""
    slug = re.sub(r"[^a-z0-9]+", "-", node_name.lower()).strip("-")
    return f"{prefix}/{slug[:180]}"


@pytest.fixture
def client(registry: Registry) -> Iterator[RegistryClient]:
    with RegistryClient(registry.url) as registry_client:
        yield registry_client


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    return repo_name_for(request.node.name)

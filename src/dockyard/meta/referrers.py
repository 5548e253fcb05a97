"""Referrers: the manifests of a repository whose `subject` is a given manifest."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Referrer:
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    annotations_json: str | None


class Referrers(Protocol):
    @abstractmethod
    async def referrers(self, repository: str, subject: str, artifact_type: str | None) -> list[Referrer]: ...

"""A rule's settings turned into questions: which repositories, which tags, which name on the other side."""

from __future__ import annotations

import re
from typing import Any

import semantic_version

from dockyard.config.replication import ReplicationRule, semver_range

# How tags are read as versions: a leading `v`, one to three numbers, then a pre-release and build.
_VERSION = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?")
# Where a tag is matched by tags_regex: a tag is at most 128 characters long.
_TAG_LIMIT = 128


def tag_version(tag: str) -> semantic_version.Version | None:
    """The version a tag names (`v1.2`, `1.2.3-rc.1`), or None."""
    match = _VERSION.fullmatch(tag)
    if match is None:
        return None
    major, minor, patch, prerelease, build = match.groups()
    try:
        return semantic_version.Version(
            major=int(major),
            minor=int(minor or 0),
            patch=int(patch or 0),
            prerelease=tuple(prerelease.split(".")) if prerelease else (),
            build=tuple(build.split(".")) if build else (),
        )
    except ValueError:  # an empty or malformed pre-release part
        return None


class Rule:
    def __init__(self, settings: ReplicationRule):
        self.settings = settings
        self._regex = re.compile(settings.tags_regex) if settings.tags_regex else None
        self._semver: Any = semver_range(settings.semver) if settings.semver else None

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def event_key(self) -> str:
        """The rule's queue in the outbox."""
        return self.settings.outbox_key

    def covers(self, repository: str) -> bool:
        return self.settings.covers(repository)

    @property
    def literal_repositories(self) -> list[str] | None:
        """The repositories by name when no glob has a wildcard (no catalog needed), else None."""
        globs = self.settings.repositories
        return None if any("*" in glob for glob in globs) else list(globs)

    def selects(self, tag: str) -> bool:
        """Whether the tag filter takes the tag: any of the filters set, or every tag when none is."""
        settings = self.settings
        regex, semver = self._regex, self._semver
        if settings.takes_every_tag:
            return True
        if settings.globs_take(tag):
            return True
        if regex is not None and len(tag) <= _TAG_LIMIT and regex.fullmatch(tag):
            return True
        if semver is not None:
            version = tag_version(tag)
            return version is not None and bool(semver.match(version))
        return False

    def destination(self, repository: str) -> str:
        return self.settings.renamed(repository)

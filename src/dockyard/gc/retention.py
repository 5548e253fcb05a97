"""Retention rules: which tags and untagged manifests to delete, planned first and then applied.

A dry run prints the plan; a real run makes the same plan and applies it, each deletion
re-checking that its tag or manifest is still as planned. What the deletions leave unreferenced
is garbage collection's to free, after its usual delay.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Protocol

from dockyard.config.settings import RetentionRule
from dockyard.meta.catalog import Catalog
from dockyard.meta.retention import RetentionState, TagState

_DAY = 86400.0
_PAGE = 1000


class RetentionStore(RetentionState, Catalog, Protocol):
    """Tags and untagged manifests to judge, in every repository the catalog lists."""


@dataclass
class RepositoryPlan:
    repository: str
    tags: list[TagState] = field(default_factory=list)
    manifests: list[tuple[str, int]] = field(default_factory=list)


def _doomed_tags(rule: RetentionRule, tags: Sequence[TagState], now: float) -> list[TagState]:
    if rule.keep_last is None and rule.keep_tags is None and rule.keep_pulled_within_days is None:
        return []
    newest = sorted(tags, key=lambda tag: (tag.pushed_at, tag.name), reverse=True)
    kept = {tag.name for tag in newest[: rule.keep_last or 0]}
    if rule.keep_tags is not None:
        pattern = re.compile(rule.keep_tags)
        kept.update(tag.name for tag in tags if pattern.fullmatch(tag.name))
    if rule.keep_pulled_within_days is not None:
        since = now - rule.keep_pulled_within_days * _DAY
        kept.update(tag.name for tag in tags if tag.pulled_at is not None and tag.pulled_at >= since)
    return [tag for tag in tags if tag.name not in kept]


class Retention:
    def __init__(self, meta: RetentionStore, rules: Sequence[RetentionRule]):
        self._meta = meta
        self._rules = tuple(rules)

    def rule_for(self, repository: str) -> RetentionRule | None:
        return next((rule for rule in self._rules if fnmatchcase(repository, rule.repository)), None)

    async def plan(self, now: float | None = None) -> list[RepositoryPlan]:
        now = time.time() if now is None else now
        plans = []
        async for repository in self._repositories():
            rule = self.rule_for(repository)
            if rule is None:
                continue
            plan = RepositoryPlan(repository, _doomed_tags(rule, await self._meta.tag_states(repository), now))
            if rule.untagged_older_than_days is not None:
                created_before = now - rule.untagged_older_than_days * _DAY
                plan.manifests = await self._meta.stale_untagged_manifests(repository, created_before)
            if plan.tags or plan.manifests:
                plans.append(plan)
        return plans

    async def apply(self, now: float | None = None) -> list[RepositoryPlan]:
        """Make the plan and carry it out; what was actually deleted."""
        now = time.time() if now is None else now
        done = []
        for plan in await self.plan(now):
            deleted_tags = set(await self._meta.delete_unchanged_tags(plan.repository, plan.tags))
            rule = self.rule_for(plan.repository)
            assert rule is not None
            created_before = now - (rule.untagged_older_than_days or 0) * _DAY
            deleted = set(
                await self._meta.delete_stale_untagged_manifests(
                    plan.repository, [digest for digest, _ in plan.manifests], created_before
                )
            )
            done.append(
                RepositoryPlan(
                    plan.repository,
                    [tag for tag in plan.tags if tag.name in deleted_tags],
                    [manifest for manifest in plan.manifests if manifest[0] in deleted],
                )
            )
        return done

    async def _repositories(self) -> AsyncIterator[str]:
        after = None
        while names := await self._meta.list_repositories(_PAGE, after):
            for name in names:
                yield name
            after = names[-1]


def describe(plans: Sequence[RepositoryPlan], dry_run: bool) -> list[str]:
    verb = "would delete" if dry_run else "deleted"
    lines = []
    for plan in plans:
        for tag in plan.tags:
            lines.append(f"{plan.repository}: {verb} tag {tag.name} ({tag.digest})")
        for digest, size in plan.manifests:
            lines.append(f"{plan.repository}: {verb} untagged manifest {digest} ({size} bytes)")
    tags = sum(len(plan.tags) for plan in plans)
    manifests = sum(len(plan.manifests) for plan in plans)
    lines.append(f"retention {verb} {tags} tags and {manifests} untagged manifests in {len(plans)} repositories")
    return lines

"""Replication: the registries dockyard copies to and from (`targets`) and what it copies (`rules`).

Cron expressions are read by cronsim (Debian cron's semantics, DST quirks included, no dependencies)
and semver ranges by semantic_version's `NpmSpec` (npm's range grammar: `>=1.2 <2`, `^1.4`, `1.x`),
so that a rule that would fail at its first run fails `dockyard config check` instead.
"""

from __future__ import annotations

import functools
import itertools
import re
import string
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Literal

import semantic_version
from cronsim import CronSim, CronSimError
from pydantic import Field, field_validator, model_validator

from dockyard.config.remotes import RemoteRegistry
from dockyard.config.section import Section
from dockyard.core.globs import glob_pattern

RULE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class ReplicationTarget(RemoteRegistry):
    """A registry replication rules copy to (push) or from (pull)."""

    name: str = Field(pattern=RULE_NAME)
    """How rules name it (`target:`), and its label in metrics."""


def cron_schedule(expression: str) -> CronSim:
    """The schedule's iterator from now (UTC); ValueError if it is no five-field cron expression."""
    if len(expression.split()) != 5:
        raise ValueError(f"schedule must have five fields (minute hour day month weekday): {expression!r}")
    try:
        return CronSim(expression, datetime.now(UTC))
    except CronSimError as error:
        raise ValueError(f"schedule {expression!r}: {error}") from None


def semver_range(expression: str) -> semantic_version.NpmSpec:
    try:
        return semantic_version.NpmSpec(expression)
    except ValueError as error:
        raise ValueError(f"semver {expression!r} is no range npm would accept: {error}") from None


class ReplicationRule(Section):
    """What one rule copies, which way, and when; see docs/replication.md."""

    name: str = Field(pattern=RULE_NAME)
    direction: Literal["push", "pull"]
    """push: from this registry to the target; pull: from the target into this registry."""
    target: str
    """The `name` of one of `replication.targets`."""
    repositories: list[str] = Field(min_length=1)
    """Globs as in auth rules (`*` within one path segment, `**` across), on the side copied from."""
    tags: list[str] | None = None
    """Globs (`*`, `?`) of the tags to copy. A tag is copied when it matches any of `tags`,
    `tags_regex` and `semver` that are set; with none set, every tag is."""
    tags_regex: str | None = None
    """A regular expression the whole tag must match."""
    semver: str | None = None
    """An npm-style range (`>=1.2 <2`); tags are read as versions, a leading `v` allowed."""
    destination: str = "{repository}"
    """The repository's name on the other side; `{repository}` stands for its name here."""
    trigger: Literal["event", "schedule", "manual"] = "manual"
    """event: pushes and deletes as they happen (push rules only); schedule: by `schedule`;
    manual: only by `dockyard replicate run`. Every rule can be run by hand."""
    schedule: str | None = None
    """A cron expression in UTC (`*/15 * * * *`), for `trigger: schedule`."""
    delete: bool = False
    """Replicate deletions of tags and manifests (tags matching the filter only)."""
    referrers: bool = True
    """Carry the signatures, SBOMs and attestations that refer to a copied manifest."""
    max_bytes_per_second: int = Field(default=0, ge=0)
    """Blob bytes per second this rule moves at most; 0: no limit."""

    @functools.cached_property
    def _patterns(self) -> tuple[re.Pattern[str], ...]:
        return tuple(glob_pattern(glob) for glob in self.repositories)

    def covers(self, repository: str) -> bool:
        """Whether the rule copies the repository (named on the side copied from)."""
        return any(pattern.fullmatch(repository) for pattern in self._patterns)

    def renamed(self, repository: str) -> str:
        """The repository's name on the side copied to."""
        return self.destination.replace("{repository}", repository)

    def renamed_from(self, name: str) -> str | None:
        """The repository `renamed` gives `name` for, or None when no name does."""
        if self.destination.count("{repository}") != 1:
            return None
        prefix, suffix = self.destination.split("{repository}")
        if len(name) <= len(prefix) + len(suffix) or not name.startswith(prefix) or not name.endswith(suffix):
            return None
        return name[len(prefix) : len(name) - len(suffix)]

    @property
    def takes_every_tag(self) -> bool:
        return self.tags is None and self.tags_regex is None and self.semver is None

    def globs_take(self, tag: str) -> bool:
        """Whether one of `tags` (the globs, not the other filters) matches the tag."""
        return any(fnmatchcase(tag, glob) for glob in self.tags or ())

    @property
    def outbox_key(self) -> str:
        """The rule's queue in the outbox it shares with the webhook endpoints."""
        return f"replication:{self.name}"

    @field_validator("tags_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"tags_regex {value!r} is not a regular expression: {error}") from None
        return value

    @field_validator("semver")
    @classmethod
    def _semver(cls, value: str | None) -> str | None:
        if value is not None:
            semver_range(value)
        return value

    @field_validator("destination")
    @classmethod
    def _destination(cls, value: str) -> str:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        if fields - {"repository"}:
            raise ValueError(f"destination may only use {{repository}}, not {sorted(fields - {'repository'})}")
        if not value.replace("{repository}", "x").strip("/"):
            raise ValueError("destination names no repository")
        return value

    @model_validator(mode="after")
    def _trigger(self) -> ReplicationRule:
        if self.trigger == "schedule":
            if self.schedule is None:
                raise ValueError(f"rule {self.name!r}: trigger schedule needs a schedule (cron expression)")
            cron_schedule(self.schedule)
        elif self.schedule is not None:
            raise ValueError(f"rule {self.name!r}: a schedule is only read with trigger: schedule")
        if self.trigger == "event" and self.direction == "pull":
            raise ValueError(f"rule {self.name!r}: pull rules cannot react to events (use schedule or manual)")
        return self


class Replication(Section):
    targets: list[ReplicationTarget] = []
    rules: list[ReplicationRule] = []
    max_pending_events: int = Field(default=10_000, ge=1)
    """Events kept per event rule while its target is down; beyond that the oldest are dropped (counted)."""
    max_event_retries: int = Field(default=10, ge=0)
    """Failed attempts at an event before it is given up (counted); waits double from 1 s to 5 minutes."""
    concurrency: int = Field(default=8, ge=1, le=256)
    """Images one rule copies at once."""
    run: bool = True
    """Whether this instance runs the event rules' workers and the scheduled rules (false: it only
    records the events, for the instances that do); `dockyard replicate run` works anywhere."""

    @model_validator(mode="after")
    def _names(self) -> Replication:
        for kind, names in (("targets", [t.name for t in self.targets]), ("rules", [r.name for r in self.rules])):
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValueError(f"replication {kind} need distinct names: {', '.join(repeated)}")
        known = {target.name for target in self.targets}
        for rule in self.rules:
            if rule.target not in known:
                raise ValueError(f"rule {rule.name!r} names target {rule.target!r}, which replication.targets lacks")
        return self

    @model_validator(mode="after")
    def _no_loops(self) -> Replication:
        """Refuse a pull rule whose copies an event push rule ships straight back to repositories the
        pull reads: each side would keep rewriting the other, and tags moved on both would flap."""
        pulls = [rule for rule in self.rules if rule.direction == "pull"]
        pushes = [rule for rule in self.rules if rule.direction == "push" and rule.trigger == "event"]
        for pull, push in itertools.product(pulls, pushes):
            loop = _loop(pull, push) if pull.target == push.target else None
            if loop is not None:
                there, here, back = loop
                raise ValueError(
                    f"rules {pull.name!r} and {push.name!r} form a loop: {pull.name} pulls {there} from "
                    f"{pull.target} into {here}, and {push.name} pushes that back to {pull.target} as {back}, "
                    f"which {pull.name} pulls; give the pull a destination the push does not cover "
                    '(such as "mirror/{repository}") or narrow their repositories'
                )
        return self

    def check_outbox_keys(self, endpoint_keys: set[str]) -> None:
        """Refuse webhook endpoints that would share a rule's queue in the outbox (each would take
        the other's events)."""
        for rule in self.rules:
            if rule.outbox_key in endpoint_keys:
                raise ValueError(
                    f"notifications endpoint {rule.outbox_key!r} takes the outbox queue of replication rule "
                    f"{rule.name!r}; give the endpoint another name"
                )


def _example(glob: str) -> str:
    """A name the glob matches, each wildcard standing for one character or path segment."""
    return re.sub(r"\*\*|\*|\?", "x", glob)


def _tags_meet(pull: ReplicationRule, push: ReplicationRule) -> bool:
    """Whether some tag is surely selected by both rules: one of them takes every tag, or an example
    of a tag glob matches globs of both (regular expressions and ranges are not compared: rules that
    filter tags only by those are taken to select different tags)."""
    if pull.takes_every_tag or push.takes_every_tag:
        return True
    examples = [_example(glob) for glob in (pull.tags or []) + (push.tags or [])]
    return any(pull.globs_take(tag) and push.globs_take(tag) for tag in examples)


def _loop(pull: ReplicationRule, push: ReplicationRule) -> tuple[str, str, str] | None:
    """(a repository on the target, its copy here, where the push puts it there) when the push
    ships pulled tags back into a repository the pull reads, found by trying an example of each
    repository glob of both rules; None when no example loops."""
    if not _tags_meet(pull, push):
        return None
    candidates = [_example(glob) for glob in pull.repositories]
    candidates += [name for glob in push.repositories if (name := pull.renamed_from(_example(glob))) is not None]
    for there in candidates:
        here = pull.renamed(there)
        if pull.covers(there) and push.covers(here) and pull.covers(push.renamed(here)):
            return there, here, push.renamed(here)
    return None

"""Who may do what on which repository. Knows users, groups and repository names; never HTTP."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from dockyard.core.globs import glob_pattern

log = logging.getLogger(__name__)


class Action(Enum):
    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"
    OVERWRITE = "overwrite"
    """Moving an existing tag to another digest; separate from push."""


class Grant(Enum):
    """How an action is allowed: the difference matters only for overwrite, where an explicit rule
    is what may override immutable tags."""

    DENIED = 0
    IMPLICIT = 1
    """No rules are configured: every authenticated user may do everything."""
    EXPLICIT = 2


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. `access` is set for token callers: exactly what the token grants,
    by repository; the policy is then not consulted for repository actions."""

    name: str
    groups: frozenset[str] = frozenset()
    access: Mapping[str, frozenset[Action]] | None = None
    catalog: bool = False
    """Whether the token grants `registry:catalog:*` (Basic callers may always list)."""
    local: bool = True
    """Issued by dockyard itself (Basic, or a token of its own issuer), so the policy knows the name."""
    expires: float = field(default=float("inf"), compare=False)
    limit: TokenLimit | None = None
    """Set for access-token callers (auth/access_tokens.py): what the token allows at most."""


@dataclass(frozen=True, slots=True)
class TokenLimit:
    """The repositories and actions an access token allows: for a personal token the policy still
    decides by its owner, so the token never reaches further than the owner may at the time of use;
    a robot token belongs to no one and has exactly these rights."""

    repositories: tuple[re.Pattern[str], ...]
    actions: frozenset[Action]
    robot: bool = False

    def permits(self, action: Action, repository: str) -> bool:
        return action in self.actions and any(pattern.fullmatch(repository) for pattern in self.repositories)


@dataclass(frozen=True, slots=True)
class Rule:
    repositories: tuple[re.Pattern[str], ...]
    users: frozenset[str]
    groups: frozenset[str]
    actions: frozenset[Action]

    def covers(self, user: str, groups: frozenset[str], repository: str) -> bool:
        if user not in self.users and not (groups & self.groups):
            return False
        return any(pattern.fullmatch(repository) for pattern in self.repositories)


def rule(repositories: Iterable[str], users: Iterable[str], groups: Iterable[str], actions: Iterable[str]) -> Rule:
    return Rule(
        tuple(glob_pattern(glob) for glob in repositories),
        frozenset(users),
        frozenset(groups),
        frozenset(Action(action) for action in actions),
    )


_CACHE_LIMIT = 65536


class Policy:
    """Answers "may PRINCIPAL do ACTION on REPOSITORY"; decisions are cached, since rules only
    change with a restart."""

    def __init__(self, rules: Sequence[Rule], anonymous: Iterable[str], groups: Mapping[str, Iterable[str]]):
        self._rules = tuple(rules)
        self._anonymous = tuple(glob_pattern(glob) for glob in anonymous)
        self._groups_of: dict[str, set[str]] = {}
        for group, members in groups.items():
            for member in members:
                self._groups_of.setdefault(member, set()).add(group)
        self._decisions: dict[tuple[str | None, frozenset[str], Action, str], Grant] = {}

    @property
    def has_anonymous_access(self) -> bool:
        return bool(self._anonymous)

    def groups_of(self, user: str) -> frozenset[str]:
        return frozenset(self._groups_of.get(user, ()))

    def grant(self, principal: Principal | None, action: Action, repository: str) -> Grant:
        """How `principal` (None: anonymous) may do `action` on `repository`."""
        if principal is not None and principal.access is not None:
            allowed = action in principal.access.get(repository, ())
            return Grant.EXPLICIT if allowed else Grant.DENIED
        if principal is not None and principal.limit is not None:
            if not principal.limit.permits(action, repository):
                return Grant.DENIED
            if principal.limit.robot:
                return Grant.EXPLICIT
        name = None if principal is None else principal.name
        # Groups are part of the key: a directory or identity provider may change them at any time.
        key = (name, frozenset() if principal is None else principal.groups, action, repository)
        decided = self._decisions.get(key)
        if decided is None:
            decided = self._decide(principal, action, repository)
            if len(self._decisions) >= _CACHE_LIMIT:
                self._decisions.clear()
            self._decisions[key] = decided
            log.info(
                "auth decision: user=%s repository=%s action=%s allowed=%s",
                name or "<anonymous>",
                repository,
                action.value,
                decided is not Grant.DENIED,
            )
        return decided

    def allows(self, principal: Principal | None, action: Action, repository: str) -> bool:
        return self.grant(principal, action, repository) is not Grant.DENIED

    def _decide(self, principal: Principal | None, action: Action, repository: str) -> Grant:
        if principal is None:
            if action is Action.PULL and any(glob.fullmatch(repository) for glob in self._anonymous):
                return Grant.EXPLICIT
            return Grant.DENIED
        if not self._rules:
            return Grant.IMPLICIT
        for candidate in self._rules:
            if action in candidate.actions and candidate.covers(principal.name, principal.groups, repository):
                return Grant.EXPLICIT
        # Whoever may pull anonymously may pull when logged in too.
        if action is Action.PULL and any(glob.fullmatch(repository) for glob in self._anonymous):
            return Grant.EXPLICIT
        return Grant.DENIED

    def allowed_actions(self, principal: Principal | None, repository: str, wanted: Iterable[Action]) -> set[Action]:
        """The subset of `wanted` the principal may do: what a token for it may carry."""
        return {action for action in wanted if self.allows(principal, action, repository)}

    def may_list_catalog(self, principal: Principal | None) -> bool:
        if principal is None:
            return self.has_anonymous_access
        return principal.access is None or principal.catalog

    def may_read(self, principal: Principal | None, repository: str) -> bool:
        """Whether the caller could pull the repository, asked inside an operation on another one (its
        catalog, a mount's source): for dockyard's own tokens their user's rights count, since the
        user could get a token for it; for an external token only what it grants."""
        return self.allows(self._by_name(principal), Action.PULL, repository)

    def is_admin(self, principal: Principal | None) -> bool:
        """May do everything everywhere (registry-wide reports such as usage): with no rules, every
        authenticated user; else a user a `**` rule grants all four actions. Never an external token,
        never an access token."""
        caller = self._by_name(principal)
        if caller is None or caller.access is not None or caller.limit is not None:
            return False
        if not self._rules:
            return True
        return any(
            candidate.actions == frozenset(Action)
            and any(pattern.pattern == ".*" for pattern in candidate.repositories)
            and (caller.name in candidate.users or bool(caller.groups & candidate.groups))
            for candidate in self._rules
        )

    def overwrite_grant(self, principal: Principal | None, repository: str) -> Grant:
        """Clients never ask a token for `overwrite`, so for dockyard's own tokens the policy decides
        by the user's name; an external issuer's push grant carries the right to move tags."""
        if principal is not None and not principal.local:
            return Grant.IMPLICIT if self.allows(principal, Action.PUSH, repository) else Grant.DENIED
        return self.grant(self._by_name(principal), Action.OVERWRITE, repository)

    def _by_name(self, principal: Principal | None) -> Principal | None:
        """The user behind one of dockyard's own tokens, as the policy knows it (unless an access
        token narrowed what the token grants: then only that)."""
        if principal is None or principal.access is None or not principal.local or principal.limit is not None:
            return principal
        if not principal.name:  # an anonymous token
            return None
        # The token carries the groups a directory put the user in; the configured ones are added here.
        return Principal(principal.name, principal.groups | self.groups_of(principal.name))

"""Personal and robot access tokens: secrets that work as a password (Basic, docker login, the token
endpoint) and reach no further than the repositories and actions they name.

A secret is `dyd_` and 256 random bits (base64url): the prefix lets secret scanners recognise a
leaked one, and a password that starts with it is checked as a token, never as a password. The store
keeps only the secret's SHA-256: a slow hash such as bcrypt protects guessable passwords, but 256
random bits cannot be guessed from their digest, and a fast digest lets every use look the token up
by it. Nothing is cached: each use reads the shared store, so a revocation holds at once on every
instance. Last uses are noted in memory and written in batches, not once per request.

A personal token acts for its owner: the policy decides by the owner's name and groups as they are
at the time of use, and the token's limit can only narrow that (auth/policy.py `TokenLimit`). A
robot token belongs to no person and has exactly its own grants.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from dockyard.auth.policy import Action, Principal, TokenLimit
from dockyard.core.globs import glob_pattern
from dockyard.meta.access_tokens import AccessTokenRecord, AccessTokens
from dockyard.meta.audit import AuditEntry
from dockyard.telemetry.failures import log_failure

log = logging.getLogger(__name__)

PREFIX = "dyd_"
_SECRET_BYTES = 32
ROBOT_PREFIX = "robot:"
"""Robot tokens act under `robot:NAME`: no user can have that name (a Basic user name holds no colon)."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_GLOB = re.compile(r"[a-z0-9*][a-z0-9._/*-]{0,254}")
_LIFETIME = re.compile(r"([1-9][0-9]{0,5})([hdw])")
_UNIT_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400}
_USE_FLUSH_SECONDS = 2.0
_MAX_PENDING_USES = 100_000


class InvalidAccessToken(ValueError):
    """What a token was asked to be cannot be: the message says why (and holds no secret)."""


def is_access_token(password: str) -> bool:
    return password.startswith(PREFIX)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_lifetime(text: str) -> int:
    """Seconds of `90d`, `12h` or `4w`."""
    match = _LIFETIME.fullmatch(text.strip())
    if match is None:
        raise InvalidAccessToken(f"expiry {text[:20]!r} is not a number of hours, days or weeks (e.g. 90d)")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def parse_actions(names: Iterable[str]) -> tuple[str, ...]:
    actions = tuple(sorted({name.strip() for name in names if name.strip()}))
    unknown = [name for name in actions if name not in Action._value2member_map_]
    if unknown or not actions:
        choices = ", ".join(action.value for action in Action)
        raise InvalidAccessToken(f"actions must be some of {choices}, not {', '.join(unknown) or 'none'}")
    return actions


def _validate(name: str, repositories: tuple[str, ...]) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidAccessToken("a token name is 1-64 letters, digits, '.', '_' or '-' (a letter or digit first)")
    if not repositories:
        raise InvalidAccessToken("a token needs at least one repository glob")
    for glob in repositories:
        if not _GLOB.fullmatch(glob):
            raise InvalidAccessToken(f"{glob[:100]!r} is not a repository glob (lowercase names, '/', '*', '**')")


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created: the only time its secret is known."""

    secret: str
    record: AccessTokenRecord


async def create_access_token(
    store: AccessTokens,
    *,
    name: str,
    owner: str | None,
    repositories: Iterable[str],
    actions: Iterable[str],
    lifetime: int | None,
    created_by: str,
    audit_as: AuditEntry | None = None,
) -> NewToken:
    """A personal token of `owner`, or a robot token when `owner` is None; `audit_as`: the audit entry
    of its creation (who, from where), stored with it, its detail naming the token. Raises
    InvalidAccessToken, or meta's DuplicateAccessToken when the name is taken."""
    globs = tuple(dict.fromkeys(repositories))
    _validate(name, globs)
    now = time.time()
    record = AccessTokenRecord(
        token_id=uuid.uuid4().hex[:16],
        name=name,
        owner=owner,
        repositories=globs,
        actions=parse_actions(actions),
        created_at=now,
        created_by=created_by,
        expires_at=now + lifetime if lifetime is not None else None,
        last_used_at=None,
    )
    secret = PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
    detail = f"token {record.token_id} ({record.name}) for {acting_name(record)}"
    audit = [replace(audit_as, detail=detail)] if audit_as is not None else []
    await store.add_access_token(record, secret_hash(secret), audit)
    return NewToken(secret, record)


def acting_name(record: AccessTokenRecord) -> str:
    """Who a token's requests are by: its owner, or `robot:NAME`."""
    return record.owner if record.owner is not None else ROBOT_PREFIX + record.name


def describe_time(at: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)) if at is not None else None


def describe(record: AccessTokenRecord) -> dict[str, Any]:
    """A token as listings show it, in JSON (no secret: it is not stored)."""
    return {
        "id": record.token_id,
        "name": record.name,
        "user": record.owner,
        "robot": record.owner is None,
        "repositories": list(record.repositories),
        "actions": list(record.actions),
        "created": describe_time(record.created_at),
        "createdBy": record.created_by,
        "expires": describe_time(record.expires_at),
        "lastUsed": describe_time(record.last_used_at),
    }


class AccessTokenChecks:
    """Secrets to principals, at every use; `owner` is a personal token's owner as it is now (None:
    gone), from the sources of credentials."""

    def __init__(self, store: AccessTokens, owner: Callable[[str], Awaitable[Principal | None]]):
        self._store = store
        self._owner = owner
        self._uses: dict[str, float] = {}

    async def principal(self, secret: str) -> Principal | None:
        """The caller a secret stands for; None for an unknown, expired or orphaned token."""
        record = await self._store.access_token_by_hash(secret_hash(secret))
        now = time.time()
        if record is None or (record.expires_at is not None and record.expires_at <= now):
            return None
        owner = None
        if record.owner is not None and (owner := await self._owner(record.owner)) is None:
            return None
        self._note_use(record.token_id, now)
        limit = TokenLimit(
            tuple(glob_pattern(glob) for glob in record.repositories),
            frozenset(Action(action) for action in record.actions),
            robot=record.owner is None,
        )
        groups = owner.groups if owner is not None else frozenset()
        return Principal(acting_name(record), groups, limit=limit)

    def _note_use(self, token_id: str, at: float) -> None:
        if token_id in self._uses or len(self._uses) < _MAX_PENDING_USES:
            self._uses[token_id] = at

    async def flush_uses(self) -> None:
        uses, self._uses = self._uses, {}
        if uses:
            await self._store.record_access_token_uses(uses)

    async def run(self, paused: Callable[[], Awaitable[bool]]) -> None:
        """Write the last uses every couple of seconds (not while the registry is read-only)."""
        while True:
            await asyncio.sleep(_USE_FLUSH_SECONDS)
            try:
                if not await paused():
                    await self.flush_uses()
            except Exception as error:
                log_failure(log, "recording the last uses of access tokens", error)

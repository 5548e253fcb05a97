"""Where user names and passwords are checked: the htpasswd file, an LDAP directory (ldap.py), side by
side behind one narrow interface and asked in the order the configuration names them. A user name
belongs to the first source that knows it; that source alone decides its password, so a name in the
htpasswd file cannot be taken over with another password from the directory. Users an identity
provider vouched for come last: they have no password here, but are known by name (with the groups
of their last login) to what acts for them later."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from dockyard.auth.credentials import UserFile
from dockyard.auth.password_checks import PasswordChecks
from dockyard.auth.revocation import password_stamp
from dockyard.meta.provider_users import ProviderUsers


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified user: its name and the groups its source puts it in (the policy adds its own)."""

    name: str
    groups: frozenset[str] = frozenset()


class Verdict(Enum):
    UNKNOWN = "unknown"
    """The source does not know the user name: the next source is asked."""
    REFUSED = "refused"
    """The source knows the user name, and the password is wrong (or the account is disabled)."""


class SourceUnavailable(Exception):
    """The source cannot answer now (a directory that is down): the login neither succeeds nor fails.
    The message is for the client: it names no secret and no internal address."""


class CredentialSource(Protocol):
    cache_seconds: float
    """How long a verified password of this source is reused without asking it again."""

    @property
    def generation(self) -> int:
        """Changes whenever what the source knows changes at once (a reloaded file): cached results go."""

    async def verify(self, name: str, password: str) -> Identity | Verdict:
        """The identity when the password is right; raises SourceUnavailable when the source cannot
        tell, and PasswordChecksBusy when its bounded pool of checks is full."""

    async def lookup(self, name: str) -> Identity | None:
        """The user as it is now, without a password (for sessions and refresh tokens issued before);
        None when the source does not know it (any more). Raises SourceUnavailable."""

    def stamp(self, name: str) -> str:
        """A digest of the user's current credential where the source can see it, else ""."""


class HtpasswdSource:
    """Users of a bcrypt htpasswd file; groups come only from the policy's configuration."""

    def __init__(self, users: UserFile, checks: PasswordChecks, cache_seconds: float):
        self._users = users
        self._checks = checks
        self.cache_seconds = cache_seconds

    @property
    def generation(self) -> int:
        self._users.refresh()
        return self._users.generation

    async def verify(self, name: str, password: str) -> Identity | Verdict:
        hashed = self._users.hash_of(name)
        # An unknown name is checked against a dummy hash, so that it takes as long as a known one.
        if await self._checks.matches(password, hashed):
            return Identity(name)
        return Verdict.REFUSED if hashed is not None else Verdict.UNKNOWN

    async def lookup(self, name: str) -> Identity | None:
        return Identity(name) if self._users.exists(name) else None

    def stamp(self, name: str) -> str:
        return password_stamp(self._users.hash_of(name))


class ProviderUserSource:
    """Users an identity provider vouched for, as their last login recorded them (meta/provider_users.py)."""

    def __init__(self, store: ProviderUsers, cache_seconds: float):
        self._store = store
        self.cache_seconds = cache_seconds
        self.generation = 0

    async def verify(self, name: str, password: str) -> Identity | Verdict:  # noqa: ARG002 - the protocol's
        return Verdict.UNKNOWN  # they log in at the provider, never with a password here

    async def lookup(self, name: str) -> Identity | None:
        found = await self._store.provider_user(name)
        return Identity(name, found.groups) if found is not None else None

    def stamp(self, name: str) -> str:  # noqa: ARG002 - the protocol's signature
        return ""

    async def remember(self, identity: Identity) -> None:
        await self._store.remember_provider_user(identity.name, identity.groups)


class Sources:
    """The configured sources, in order."""

    def __init__(self, sources: Sequence[CredentialSource]):
        self._sources = tuple(sources)

    def __bool__(self) -> bool:
        return bool(self._sources)

    @property
    def generation(self) -> tuple[int, ...]:
        return tuple(source.generation for source in self._sources)

    async def verify(self, name: str, password: str) -> tuple[Identity | None, float]:
        """The identity (None: refused) and how long the answer may be reused: the deciding source's
        cache time for a success, the shortest of all for a refusal."""
        for source in self._sources:
            verdict = await source.verify(name, password)
            if isinstance(verdict, Identity):
                return verdict, source.cache_seconds
            if verdict is Verdict.REFUSED:
                break
        return None, min(source.cache_seconds for source in self._sources)

    async def lookup(self, name: str) -> Identity | None:
        for source in self._sources:
            identity = await source.lookup(name)
            if identity is not None:
                return identity
        return None

    def stamp(self, name: str) -> str:
        return next((stamp for source in self._sources if (stamp := source.stamp(name))), "")

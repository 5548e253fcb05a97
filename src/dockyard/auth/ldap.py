"""Users of an LDAP directory: a search for the user's entry (as the service account), a bind as that
entry with the password, and a search for the groups it is a member of, whose `cn`s become policy
groups.

Every value put into a filter is escaped (RFC 4515), so a user name such as `*` or `x)(uid=*` is a
name, never a filter. An empty password is refused before anything is sent: LDAP takes a bind with
a DN and no password for an anonymous bind, which succeeds. The blocking ldap3 calls run in the same
bounded pool as bcrypt (password_checks.py), so a slow directory can never hold up the event loop and
a flood of logins is refused rather than queued.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from ldap3 import NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from dockyard.auth.password_checks import PasswordChecks
from dockyard.auth.sources import Identity, SourceUnavailable, Verdict
from dockyard.config.identity import DN_PLACEHOLDER, USERNAME_PLACEHOLDER, Ldap

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "the user directory is unavailable; try again later"
_INVALID_CREDENTIALS = 49
_BUSY_OR_UNAVAILABLE = frozenset({51, 52})  # busy, unavailable: the directory, not the password
_MAX_NAME_LENGTH = 256
_LOOKUP_CACHE_LIMIT = 4096

T = TypeVar("T")


class _Unavailable(Exception):
    """Raised inside the pool thread; becomes SourceUnavailable with a message for the client."""


class LdapDirectory:
    def __init__(self, settings: Ldap, checks: PasswordChecks):
        self._settings = settings
        self._checks = checks
        self.cache_seconds = float(settings.cache_seconds)
        self._tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(settings.ca_file) if settings.ca_file else None)
        self._lookups: dict[str, tuple[Identity | None, float]] = {}

    @property
    def generation(self) -> int:
        return 0  # nothing tells dockyard the directory changed: results expire by time

    async def verify(self, name: str, password: str) -> Identity | Verdict:
        if not _plausible(name):
            return Verdict.UNKNOWN
        if not password:
            return Verdict.REFUSED  # would be an anonymous bind, which succeeds
        return await self._in_pool(lambda: self._verify(name, password))

    async def lookup(self, name: str) -> Identity | None:
        found = self._lookups.get(name)
        if found is not None and time.monotonic() < found[1]:
            return found[0]
        identity = await self._in_pool(lambda: self._lookup(name)) if _plausible(name) else None
        if len(self._lookups) >= _LOOKUP_CACHE_LIMIT:
            self._lookups.clear()
        self._lookups[name] = (identity, time.monotonic() + self.cache_seconds)
        return identity

    def stamp(self, name: str) -> str:  # noqa: ARG002 - the protocol's signature
        return ""  # the directory keeps its password hashes to itself; lookups notice a removed user

    async def _in_pool(self, check: Callable[[], T]) -> T:
        try:
            return await self._checks.run(check)
        except _Unavailable as error:
            log.error("LDAP directory %s unavailable: %s", self._settings.url, error)
            raise SourceUnavailable(UNAVAILABLE_MESSAGE) from None

    def _verify(self, name: str, password: str) -> Identity | Verdict:
        with self._service() as service:
            dn = self._user_dn(service, name)
            if dn is None:
                return Verdict.UNKNOWN
            if not dn or not self._binds(dn, password):
                return Verdict.REFUSED
            return Identity(name, self._groups(service, name, dn))

    def _lookup(self, name: str) -> Identity | None:
        with self._service() as service:
            dn = self._user_dn(service, name)
            return Identity(name, self._groups(service, name, dn)) if dn else None

    @contextmanager
    def _service(self) -> Iterator[Connection]:
        """A connection bound as the service account (or anonymous when none is configured)."""
        settings = self._settings
        password = settings.bind_password.get_secret_value() if settings.bind_password else None
        connection = self._connection(settings.bind_dn, password)
        try:
            if not connection.bind():
                raise _Unavailable(f"the service account's bind was refused ({connection.result['description']})")
            yield connection
        except LDAPException as error:
            raise _Unavailable(f"{type(error).__name__}: {error}") from None
        finally:
            connection.unbind()

    def _connection(self, user: str | None, password: str | None) -> Connection:
        # A new Server each time: ldap3 marks a server's address unusable once a connection to it
        # failed, and would never try a directory again that was down for a moment.
        timeout = self._settings.timeout_seconds
        server = Server(self._settings.url, get_info=NONE, tls=self._tls, connect_timeout=timeout)
        connection = Connection(
            server,
            user=user,
            password=password,
            read_only=True,
            receive_timeout=timeout,
            raise_exceptions=False,
        )
        try:
            connection.open()
            if self._settings.start_tls and not connection.start_tls():
                raise _Unavailable("StartTLS failed")
        except LDAPException as error:
            raise _Unavailable(f"{type(error).__name__}: {error}") from None
        return connection

    def _binds(self, dn: str, password: str) -> bool:
        connection = self._connection(dn, password)
        try:
            if connection.bind():
                return True
        except LDAPException as error:
            raise _Unavailable(f"{type(error).__name__}: {error}") from None
        finally:
            connection.unbind()
        if connection.result["result"] in _BUSY_OR_UNAVAILABLE:
            raise _Unavailable(f"the bind was not answered ({connection.result['description']})")
        return False

    def _user_dn(self, service: Connection, name: str) -> str | None:
        """The DN of the one entry the user filter finds; None for none, "" for more than one (the
        directory knows the name, ambiguously: refused, never passed on to the next source)."""
        query = self._settings.user_filter.replace(USERNAME_PLACEHOLDER, escape_filter_chars(name))
        entries = _search(service, self._settings.user_base, query, size_limit=2)
        if not entries:
            return None
        return entries[0][0] if len(entries) == 1 else ""

    def _groups(self, service: Connection, name: str, dn: str) -> frozenset[str]:
        if self._settings.group_base is None:
            return frozenset()
        query = self._settings.group_filter.replace(DN_PLACEHOLDER, escape_filter_chars(dn))
        query = query.replace(USERNAME_PLACEHOLDER, escape_filter_chars(name))
        entries = _search(service, self._settings.group_base, query, attributes=["cn"])
        return frozenset(cn for _, attributes in entries for cn in attributes.get("cn", ()))


def _search(
    connection: Connection, base: str, query: str, size_limit: int = 0, attributes: list[str] | None = None
) -> list[tuple[str, dict[str, list[str]]]]:
    """(DN, attributes) of the entries found; a base that does not exist finds nothing."""
    connection.search(base, query, SUBTREE, attributes=attributes or [], size_limit=size_limit)
    result = connection.result["result"]
    if result in _BUSY_OR_UNAVAILABLE:
        raise _Unavailable(f"the search was not answered ({connection.result['description']})")
    return [
        (entry["dn"], {key: _strings(value) for key, value in entry.get("attributes", {}).items()})
        for entry in connection.response or ()
        if entry.get("type") == "searchResEntry"
    ]


def _strings(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _plausible(name: str) -> bool:
    """Whether a user name could be one at all (no control characters, not absurdly long)."""
    return 0 < len(name) <= _MAX_NAME_LENGTH and name.isprintable()

"""Users from an htpasswd file of bcrypt hashes (as `htpasswd -B` writes it), and atomic edits of it."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

import bcrypt

from dockyard import durable

_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
DEFAULT_COST = 12
_BCRYPT_MAX_BYTES = 72


class HtpasswdError(ValueError):
    """The file cannot be used; the message says which line and why."""


def parse(text: str, source: str = "htpasswd") -> dict[str, bytes]:
    """User name -> bcrypt hash. Weaker hashes (MD5 apr1, SHA1, crypt, plain) are refused."""
    users: dict[str, bytes] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        if not sep or not name or not hashed:
            raise HtpasswdError(f"{source}:{number}: expected NAME:HASH")
        if not hashed.startswith(_BCRYPT_PREFIXES):
            raise HtpasswdError(
                f"{source}:{number}: the password of user {name!r} is not a bcrypt hash; only bcrypt is "
                "accepted (MD5, SHA1, crypt and plain text are too weak): set it again with "
                "`dockyard user add` or `htpasswd -B`"
            )
        users[name] = hashed.encode()
    return users


def load(path: Path) -> dict[str, bytes]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise HtpasswdError(f"htpasswd file not found: {path}") from None
    return parse(text, str(path))


def hash_password(password: str, cost: int = DEFAULT_COST) -> bytes:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost))


def check_password(password: bytes, hashed: bytes) -> bool:
    """bcrypt's own comparison runs in constant time."""
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # a corrupt hash, or a password bcrypt refuses
        return False


def valid_user_name(name: str) -> bool:
    return bool(name) and ":" not in name and name.isprintable() and not name.isspace() and name.strip() == name


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise editors of one file; readers never need the lock since writes are atomic renames."""
    lock_path = path.with_name(path.name + ".lock")
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write_atomically(path: Path, users: dict[str, bytes]) -> None:
    text = "".join(f"{name}:{hashed.decode()}\n" for name, hashed in sorted(users.items()))
    durable.replace_file(path, text.encode(), 0o600)


def set_user(path: Path, name: str, password: str, cost: int = DEFAULT_COST) -> bool:
    """Add the user or change its password; True when the user is new."""
    if not valid_user_name(name):
        raise HtpasswdError(f"invalid user name {name!r}: it must be printable, without ':' or outer spaces")
    if len(password.encode()) > _BCRYPT_MAX_BYTES:
        raise HtpasswdError(f"the password is longer than bcrypt's {_BCRYPT_MAX_BYTES} bytes")
    hashed = hash_password(password, cost)
    durable.make_dirs(path.parent)
    with _locked(path):
        users = load(path) if path.exists() else {}
        new = name not in users
        users[name] = hashed
        _write_atomically(path, users)
    return new


def remove_user(path: Path, name: str) -> bool:
    """Remove the user; False when there was no such user."""
    with _locked(path):
        users = load(path)
        if users.pop(name, None) is None:
            return False
        _write_atomically(path, users)
    return True

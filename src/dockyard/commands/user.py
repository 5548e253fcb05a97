"""`dockyard user add|remove|list|logout`: edit the htpasswd file the configuration names (auth.htpasswd),
and end users' sessions and refresh tokens on every instance (in the metadata store)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from dockyard.audit.trail import USER_ADD, USER_LOGOUT, USER_NEW_PASSWORD, USER_REMOVE, operator_entry
from dockyard.auth import htpasswd
from dockyard.commands.flags import add_setting_flags
from dockyard.commands.stores import open_metadata
from dockyard.config.settings import Settings
from dockyard.meta.factory import prepare_metadata_store


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "user",
        help="add, remove or list the users of auth.htpasswd",
        description="Edit the htpasswd file named by auth.htpasswd (bcrypt hashes; every edit is atomic). "
        "The running server picks changes up within a second. Changing a password or removing a user also "
        "ends the user's UI sessions and refresh tokens on every instance; `logout` ends them alone.",
    )
    add_setting_flags(parser)
    actions = parser.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user or change its password")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    remove = actions.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    actions.add_parser("list", help="list the user names")
    logout = actions.add_parser("logout", help="end the user's UI sessions and refresh tokens on every instance")
    logout.add_argument("name")
    parser.set_defaults(run=_run)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat the password: ") != password:
            sys.exit("dockyard user: the passwords differ")
    if not password:
        sys.exit("dockyard user: the password is empty")
    return password


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.user_command == "logout":
        _end_sessions(settings, args.name, USER_LOGOUT)
        print(f"ended every session and refresh token of {args.name}")
        return 0
    path = settings.auth.htpasswd
    if path is None:
        sys.exit("dockyard user: auth.htpasswd is not configured (set it in --config or DOCKYARD_AUTH__HTPASSWD)")
    try:
        if args.user_command == "add":
            new = htpasswd.set_user(path, args.name, _read_password(args.password_stdin))
            print(f"{'added' if new else 'changed the password of'} user {args.name} in {path}")
            if new:
                _record_added(settings, args.name)
            else:
                _end_sessions(settings, args.name, USER_NEW_PASSWORD)
        elif args.user_command == "remove":
            if not htpasswd.remove_user(path, args.name):
                sys.exit(f"dockyard user: no user {args.name!r} in {path}")
            print(f"removed user {args.name} from {path}")
            _end_sessions(settings, args.name, USER_REMOVE)
        else:
            for name in sorted(htpasswd.load(path)):
                print(name)
    except htpasswd.HtpasswdError as error:
        sys.exit(f"dockyard user: {error}")
    return 0


def _end_sessions(settings: Settings, name: str, action: str) -> None:
    """Bump the user's credential version in the metadata store (auth/revocation.py), and record the
    `action` in the audit log. The password file is changed already: should the store be out of reach,
    the instances still end the sessions once they read the file (the password's stamp changed), but
    not those of a mere logout."""

    async def bump() -> None:
        meta = await open_metadata(settings)
        try:
            await meta.bump_credential_version(name)
            await meta.append_audit([operator_entry(action, f"user {name}")])
        finally:
            await meta.close()

    try:
        prepare_metadata_store(settings)  # the store may not exist yet: users are often added before a first start
        asyncio.run(bump())
    except Exception as error:  # the operator must hear that sessions may live on, whatever the cause
        sys.exit(f"dockyard user: could not end the sessions of {name} in the metadata store: {error}")


def _record_added(settings: Settings, name: str) -> None:
    """A new user ends no session: only the audit entry goes to the store. The user is in the file
    already; a store out of reach costs the entry, and the operator hears so."""

    async def record() -> None:
        meta = await open_metadata(settings)
        try:
            await meta.append_audit([operator_entry(USER_ADD, f"user {name}")])
        finally:
            await meta.close()

    try:
        prepare_metadata_store(settings)
        asyncio.run(record())
    except Exception as error:  # the user was added; the operator must hear that the entry was not
        print(f"dockyard user: could not record the addition in the audit log: {error}", file=sys.stderr)

"""`dockyard user add|remove|list`: edit the htpasswd file the configuration names (auth.htpasswd)."""

from __future__ import annotations

import argparse
import getpass
import sys

from dockyard.auth import htpasswd
from dockyard.commands.flags import add_setting_flags
from dockyard.config.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "user",
        help="add, remove or list the users of auth.htpasswd",
        description="Edit the htpasswd file named by auth.htpasswd (bcrypt hashes; every edit is atomic). "
        "The running server picks changes up within a second.",
    )
    add_setting_flags(parser)
    actions = parser.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user or change its password")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    remove = actions.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    actions.add_parser("list", help="list the user names")
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
    path = settings.auth.htpasswd
    if path is None:
        sys.exit("dockyard user: auth.htpasswd is not configured (set it in --config or DOCKYARD_AUTH__HTPASSWD)")
    try:
        if args.user_command == "add":
            new = htpasswd.set_user(path, args.name, _read_password(args.password_stdin))
            print(f"{'added' if new else 'changed the password of'} user {args.name} in {path}")
        elif args.user_command == "remove":
            if not htpasswd.remove_user(path, args.name):
                sys.exit(f"dockyard user: no user {args.name!r} in {path}")
            print(f"removed user {args.name} from {path}")
        else:
            for name in sorted(htpasswd.load(path)):
                print(name)
    except htpasswd.HtpasswdError as error:
        sys.exit(f"dockyard user: {error}")
    return 0

"""`dockyard token create|list|revoke`: personal and robot access tokens, in the metadata store that every
instance shares (auth/access_tokens.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from dockyard.audit.trail import TOKEN_CREATE, TOKEN_REVOKE, operator_entry
from dockyard.auth import htpasswd
from dockyard.auth.access_tokens import (
    InvalidAccessToken,
    acting_name,
    create_access_token,
    describe,
    describe_time,
    parse_lifetime,
)
from dockyard.commands.flags import add_setting_flags
from dockyard.commands.stores import open_metadata
from dockyard.config.settings import Settings
from dockyard.meta.access_tokens import AccessTokenRecord, AccessTokens, DuplicateAccessToken
from dockyard.meta.factory import prepare_metadata_store


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "token",
        help="create, list or revoke access tokens",
        description="Access tokens work as the password in docker login, Basic credentials and the token "
        "endpoint (with auth.access_tokens: true). A personal token acts for its user and never reaches "
        "further than the user may at the time of use; a robot token belongs to no person and has exactly its "
        "own grants. The secret is printed once, at creation; only its hash is stored.",
    )
    add_setting_flags(parser)
    actions = parser.add_subparsers(dest="what", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token and print its secret (once)")
    create.add_argument("--name", required=True, help="unique per user (or among robots)")
    owner = create.add_mutually_exclusive_group(required=True)
    owner.add_argument("--user", help="the user a personal token acts for")
    owner.add_argument("--robot", action="store_true", help="a robot token, belonging to no person")
    create.add_argument("--repositories", nargs="+", required=True, metavar="GLOB", help="e.g. 'team/**'")
    create.add_argument("--actions", required=True, help="comma-separated: pull, push, delete, overwrite")
    create.add_argument("--expires", metavar="AGE", help="lifetime such as 12h, 90d or 4w (default: never)")
    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--user", help="only this user's tokens")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    revoke = actions.add_parser("revoke", help="revoke a token at once, on every instance")
    revoke.add_argument("token_id", metavar="ID", help="as `list` shows it")
    parser.set_defaults(run=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.auth.access_tokens:
        print("dockyard token: note: auth.access_tokens is off; tokens work once it is on", file=sys.stderr)
    try:
        prepare_metadata_store(settings)
        return asyncio.run(_command(settings, args))
    except (InvalidAccessToken, DuplicateAccessToken) as error:
        sys.exit(f"dockyard token: {error}")


async def _command(settings: Settings, args: argparse.Namespace) -> int:
    meta = await open_metadata(settings)
    try:
        if args.what == "create":
            if args.user is not None:
                _warn_of_unknown_user(settings, args.user)
            return await _create(meta, args)
        if args.what == "list":
            records = await meta.access_tokens(args.user, robots=args.user is None)
            _print(records, args.json)
            return 0
        if not await meta.revoke_access_token(
            args.token_id, audit=[operator_entry(TOKEN_REVOKE, f"token {args.token_id}")]
        ):
            sys.exit(f"dockyard token: no token {args.token_id!r}")
        print(f"revoked token {args.token_id}")
        return 0
    finally:
        await meta.close()


def _warn_of_unknown_user(settings: Settings, user: str) -> None:
    """A user the htpasswd file does not know may come from another source: a note, not a refusal."""
    path = settings.auth.htpasswd
    try:
        known = path is None or user in htpasswd.load(path)
    except htpasswd.HtpasswdError:
        known = False
    if not known:
        note = f"no user {user!r} in {path}; the token works only while such a user exists"
        print(f"dockyard token: note: {note}", file=sys.stderr)


async def _create(meta: AccessTokens, args: argparse.Namespace) -> int:
    created = await create_access_token(
        meta,
        name=args.name,
        owner=None if args.robot else args.user,
        repositories=args.repositories,
        actions=args.actions.split(","),
        lifetime=parse_lifetime(args.expires) if args.expires else None,
        created_by="command line",
        audit_as=operator_entry(TOKEN_CREATE),
    )
    record = created.record
    print(
        f"created token {record.token_id} ({record.name}) for {acting_name(record)}; "
        "its secret follows and is shown only now",
        file=sys.stderr,
    )
    print(created.secret)
    return 0


def _when(at: float | None) -> str:
    return describe_time(at) or "-"


def _print(records: list[AccessTokenRecord], as_lines: bool) -> None:
    if as_lines:
        for record in records:
            print(json.dumps(describe(record), separators=(",", ":")))
        return
    print("ID\tNAME\tFOR\tREPOSITORIES\tACTIONS\tEXPIRES\tLAST USED")
    for record in records:
        fields = [record.token_id, record.name, acting_name(record), " ".join(record.repositories)]
        fields += [",".join(record.actions), _when(record.expires_at), _when(record.last_used_at)]
        print("\t".join(fields))

"""The policy through its interface: globs, rules, groups, anonymous access, overwrite grants."""

from __future__ import annotations

import pytest

from dockyard.auth.policy import Action, Grant, Policy, Principal, rule
from dockyard.core.globs import glob_pattern


@pytest.mark.parametrize(
    ("glob", "name", "matches"),
    [
        ("**", "a", True),
        ("**", "a/b/c", True),
        ("team/**", "team/x", True),
        ("team/**", "team/x/y", True),
        ("team/**", "teamx/y", False),
        ("team/*", "team/x", True),
        ("team/*", "team/x/y", False),
        ("*/app", "team/app", True),
        ("*/app", "a/b/app", False),
        ("a.b", "axb", False),
        ("exact/name", "exact/name", True),
    ],
)
def test_globs(glob: str, name: str, matches: bool) -> None:
    assert bool(glob_pattern(glob).fullmatch(name)) is matches


def test_no_rules_lets_every_authenticated_user_do_everything() -> None:
    policy = Policy([], [], {})
    for action in Action:
        assert policy.grant(Principal("someone"), action, "any/repo") is Grant.IMPLICIT
        assert policy.grant(None, action, "any/repo") is Grant.DENIED


def test_rules_users_groups_and_anonymous() -> None:
    policy = Policy(
        [rule(["team/**"], ["alice"], [], ["pull", "push"]), rule(["shared/*"], [], ["ops"], ["delete"])],
        ["public/**"],
        {"ops": ["bob"]},
    )
    alice, bob = Principal("alice"), Principal("bob", policy.groups_of("bob"))
    assert policy.allows(alice, Action.PUSH, "team/app")
    assert not policy.allows(alice, Action.DELETE, "team/app")
    assert not policy.allows(alice, Action.PULL, "other/app")
    assert policy.allows(bob, Action.DELETE, "shared/x")
    assert not policy.allows(bob, Action.DELETE, "shared/x/y")
    assert policy.allows(None, Action.PULL, "public/base")
    assert not policy.allows(None, Action.PUSH, "public/base")
    assert policy.allows(alice, Action.PULL, "public/base"), "logged-in users may pull what anonymous may"


def test_overwrite_needs_an_explicit_rule_once_rules_exist() -> None:
    policy = Policy([rule(["**"], ["alice"], [], ["push"]), rule(["**"], ["carol"], [], ["push", "overwrite"])], [], {})
    assert policy.overwrite_grant(Principal("alice"), "r") is Grant.DENIED
    assert policy.overwrite_grant(Principal("carol"), "r") is Grant.EXPLICIT
    assert Policy([], [], {}).overwrite_grant(Principal("alice"), "r") is Grant.IMPLICIT


def test_admins_are_granted_everything_everywhere() -> None:
    policy = Policy(
        [rule(["**"], ["root"], [], ["pull", "push", "delete", "overwrite"]), rule(["**"], ["ci"], [], ["pull"])],
        [],
        {},
    )
    assert policy.is_admin(Principal("root"))
    assert not policy.is_admin(Principal("ci"))
    assert not policy.is_admin(None)
    assert policy.is_admin(Principal("root", access={}))
    assert not policy.is_admin(Principal("root", access={}, local=False))
    assert Policy([], [], {}).is_admin(Principal("anyone"))


def test_token_principals_have_exactly_their_grants() -> None:
    policy = Policy([], [], {})
    token = Principal("alice", access={"team/app": frozenset({Action.PULL})})
    assert policy.allows(token, Action.PULL, "team/app")
    assert not policy.allows(token, Action.PUSH, "team/app")
    assert not policy.allows(token, Action.PULL, "team/other")
    # The catalog of one of dockyard's own tokens shows what its user may pull.
    assert policy.may_read(token, "team/other")
    external = Principal("alice", access={"team/app": frozenset({Action.PULL})}, local=False)
    assert not policy.may_read(external, "team/other")
    anonymous_token = Principal("", access={})
    assert not policy.may_read(anonymous_token, "team/other")

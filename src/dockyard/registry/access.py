"""What the registry asks of the authorization policy inside an operation: may the caller pull a
mount's source, may its push move tags, which repositories its catalog shows. With auth off the
answers are always yes, at no cost."""

from __future__ import annotations

from collections.abc import Callable

from dockyard.auth.policy import Grant, Policy, Principal
from dockyard.registry.manifests import TagMoves

_TAG_MOVES = {Grant.DENIED: TagMoves.REFUSED, Grant.IMPLICIT: TagMoves.ALLOWED, Grant.EXPLICIT: TagMoves.FORCED}


class Access:
    def __init__(self, policy: Policy | None = None):
        self._policy = policy

    def pull_predicate(self, principal: Principal | None) -> Callable[[str], bool]:
        """Whether this caller may pull repository X: for mount sources and the automatic mount's search."""
        policy = self._policy
        if policy is None:
            return lambda _repository: True
        return lambda repository: policy.may_read(principal, repository)

    def tag_moves(self, principal: Principal | None, repository: str) -> TagMoves:
        if self._policy is None:
            return TagMoves.ALLOWED
        return _TAG_MOVES[self._policy.overwrite_grant(principal, repository)]

    def catalog_filter(self, principal: Principal | None) -> Callable[[str], bool] | None:
        """None when every repository shows."""
        policy = self._policy
        if policy is None:
            return None
        return lambda repository: policy.may_read(principal, repository)


ALLOW_ALL = Access()

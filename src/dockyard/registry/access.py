"""What the registry asks of the authorization policy inside an operation: may the caller pull a
mount's source, may its push move tags, which repositories its catalog shows. With auth off the
answers are always yes, at no cost."""

from __future__ import annotations

from collections.abc import Callable

from dockyard.auth.policy import Action, Grant, Policy, Principal
from dockyard.registry.manifests import TagMoves

_TAG_MOVES = {Grant.DENIED: TagMoves.REFUSED, Grant.IMPLICIT: TagMoves.ALLOWED, Grant.EXPLICIT: TagMoves.FORCED}


class Access:
    def __init__(self, policy: Policy | None = None):
        self._policy = policy

    def may_pull(self, principal: Principal | None, repository: str) -> bool:
        return self._policy is None or self._policy.allows(principal, Action.PULL, repository)

    def pull_predicate(self, principal: Principal | None) -> Callable[[str], bool]:
        """ "May this caller pull repository X", for automatic mounts that search for a blob."""
        return lambda repository: self.may_pull(principal, repository)

    def tag_moves(self, principal: Principal | None, repository: str) -> TagMoves:
        if self._policy is None:
            return TagMoves.ALLOWED
        return _TAG_MOVES[self._policy.overwrite_grant(principal, repository)]

    def catalog_filter(self, principal: Principal | None) -> Callable[[str], bool] | None:
        """None when every repository shows."""
        policy = self._policy
        if policy is None:
            return None
        return lambda repository: policy.visible(principal, repository)


ALLOW_ALL = Access()

"""Users an identity provider vouched for: the groups each had at its last login.

An OpenID Provider is asked about a user only while the user logs in; between logins dockyard has
nothing to ask. What outlives a login and acts for the user later (an access token created in the
UI) needs the user's groups then, and finds here those of the last login.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ProviderUser:
    groups: frozenset[str]
    logged_in_at: float
    """Epoch seconds of the last login."""


class ProviderUsers(Protocol):
    @abstractmethod
    async def remember_provider_user(self, name: str, groups: frozenset[str]) -> None:
        """Record a login of `name` with these groups (replacing what an earlier login recorded)."""

    @abstractmethod
    async def provider_user(self, name: str) -> ProviderUser | None:
        """What the last login of `name` recorded; None when it never logged in through a provider."""

"""Failures any metadata operation may raise, whatever its concern."""

from __future__ import annotations

from dockyard.core.errors import StoreUnavailable


class WriteContention(Exception):
    """A write kept colliding with concurrent writes through every retry; a smaller one may pass."""


class MetadataUnavailable(StoreUnavailable):
    """The metadata database cannot be reached or refused us; the message says which and why."""

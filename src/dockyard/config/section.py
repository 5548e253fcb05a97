"""The base of every group of settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A group of settings; an unknown key in it is refused like one at the top level."""

    model_config = ConfigDict(extra="forbid")

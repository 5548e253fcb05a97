"""The documentation: every relative link and anchor in the README and docs/ resolves (as GitHub
renders headings), and the configuration reference names every setting."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from dockyard.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_CODE_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)


def _prose(page: Path) -> str:
    return _CODE_BLOCK.sub("", page.read_text())


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    """Repeated headings get -1, -2, ... appended, as on GitHub."""
    anchors: set[str] = set()
    repeats: dict[str, int] = {}
    for heading in _HEADING.findall(_prose(page)):
        anchor = _anchor(heading)
        count = repeats.get(anchor, 0)
        anchors.add(anchor if count == 0 else f"{anchor}-{count}")
        repeats[anchor] = count + 1
    return anchors


def _relative_links(page: Path) -> Iterator[str]:
    for target in _LINK.findall(_prose(page)):
        if not re.match(r"[a-z]+:", target):
            yield target


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    broken = []
    for target in _relative_links(page):
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists() or (anchor and anchor not in _anchors(destination)):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def _section(annotation: object) -> type[BaseModel] | None:
    """The settings model a field holds (also when it may be null), or None for a plain value or a list."""
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        section = _section(field.annotation)
        if section is None:
            yield prefix + name
        else:
            yield from _keys(section, f"{prefix}{name}.")


def test_the_configuration_reference_names_every_setting() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text()
    missing = [key for key in _keys(Settings) if f"`{key}`" not in reference]
    assert not missing, f"docs/configuration.md lacks {missing}"

"""The shape of the source: imports flow one way between dockyard's rooms, no module imports itself
back (not even from inside a function), and only what builds or opens the metadata store sees all of it.

A room is a top-level package or module of `dockyard`. Every room has a layer; a room may import
rooms of lower layers, and of its own layer only where SIBLINGS allows it.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import dockyard

PACKAGE = Path(dockyard.__file__).parent
ROOT = "__init__"  # the room of the top-level package itself (its version)

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"__main__", "cli", "commands", "server"}),
    frozenset({"ui"}),  # the web UI: its pages and JSON API are handlers on the HTTP layer
    frozenset({"http"}),
    frozenset({"registry", "gc", "events", "replication", "audit"}),
    frozenset({"proxy"}),  # the pull-through cache: asked by the registry, on the stores and the remote client
    frozenset({"auth", "meta", "blobs"}),
    frozenset({"remote"}),  # the client for other registries, under the pull-through cache and replication
    frozenset({"config", "telemetry"}),
    # Durable file changes (fsync, write-then-rename): the standard library only, so that every room
    # keeping state on disk (blobs, meta, auth, ui, commands) shares one implementation; core stays
    # free of I/O.
    frozenset({"durable"}),
    frozenset({"core", ROOT}),
)
SIBLINGS = frozenset(
    {
        ("__main__", "cli"),
        ("cli", "commands"),
        ("cli", "server"),
        ("commands", "server"),  # `dockyard serve` runs the composition root
        ("registry", "events"),  # the registry writes its events into the outbox with its writes
        ("registry", "audit"),  # and its audit entries with them
        ("audit", "events"),  # an audit entry names who, from where, as an event's origin does
        ("gc", "audit"),  # background retention runs are recorded, and the audit log purged
        ("gc", "registry"),  # the background worker flushes the registry's pull log
        ("replication", "registry"),  # replicated content is written through the registry: events, GC, quotas apply
        ("auth", "meta"),  # sessions and refresh tokens are checked against revocations every instance sees
    }
)
# Known breaches of the rules, each to be fixed; the test fails once one is gone, so that it is
# struck from this list and can never come back.
KNOWN_BREACHES: dict[tuple[str, str], str] = {}
# Besides its definition: its implementation, the factory, the composition root and the commands'
# opener. Everything else names the interfaces of the concerns it uses.
WHOLE_STORE_USERS = frozenset(
    {"dockyard.meta.sql", "dockyard.meta.factory", "dockyard.server", "dockyard.commands.stores"}
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The dockyard modules an import statement loads (`from a import b` loads a.b when it is a module)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level or node.module is None:
        raise ValueError(f"{module} imports relatively; dockyard's imports name the module from dockyard down")
    for alias in node.names:
        submodule = f"{node.module}.{alias.name}"
        yield submodule if submodule in MODULES else node.module


def _imports() -> dict[str, set[str]]:
    """Every module's imports of other dockyard modules, wherever in the module they are."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        targets = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets.update(name for name in _imported(module, node) if name in MODULES and name != module)
    return graph


IMPORTS = _imports()


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _layer(room: str) -> int:
    return next(index for index, rooms in enumerate(LAYERS) if room in rooms)


def _room_imports() -> dict[tuple[str, str], list[str]]:
    """(importer, imported) rooms, with the module imports that make the edge."""
    edges: dict[tuple[str, str], list[str]] = {}
    for module, targets in IMPORTS.items():
        for target in targets:
            if _room(module) != _room(target):
                edges.setdefault((_room(module), _room(target)), []).append(f"{module} -> {target}")
    return edges


ROOM_IMPORTS = _room_imports()


def _allowed(importer: str, imported: str) -> bool:
    below = _layer(imported) > _layer(importer)
    return below or (importer, imported) in SIBLINGS


def test_every_room_has_a_layer() -> None:
    placed = frozenset().union(*LAYERS)
    assert {_room(module) for module in MODULES} - placed == set()


def test_rooms_import_only_lower_layers() -> None:
    breaches = {
        edge: modules for edge, modules in ROOM_IMPORTS.items() if edge not in KNOWN_BREACHES and not _allowed(*edge)
    }
    assert breaches == {}


def test_known_breaches_are_still_there() -> None:
    """A breach that was fixed (or became allowed) is struck from KNOWN_BREACHES."""
    assert [edge for edge in KNOWN_BREACHES if edge not in ROOM_IMPORTS or _allowed(*edge)] == []


def test_no_import_cycle_between_modules() -> None:
    """Known breaches aside; they are the only cycles there are."""
    graph = {
        module: {target for target in targets if (_room(module), _room(target)) not in KNOWN_BREACHES}
        for module, targets in IMPORTS.items()
    }
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming one cycle


def test_no_import_cycle_between_rooms() -> None:
    graph: dict[str, set[str]] = {}
    for importer, imported in ROOM_IMPORTS:
        if (importer, imported) not in KNOWN_BREACHES:
            graph.setdefault(importer, set()).add(imported)
    graphlib.TopologicalSorter(graph).prepare()


def _names_whole_store(path: Path) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "dockyard.meta.store"
        and any(alias.name == "MetadataStore" for alias in node.names)
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
    )


def test_only_the_builders_and_openers_of_the_metadata_store_see_all_of_it() -> None:
    assert {module for module, path in MODULES.items() if _names_whole_store(path)} == WHOLE_STORE_USERS

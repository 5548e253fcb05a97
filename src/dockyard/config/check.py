"""Judging a configuration before a server runs on it: every problem named by its key, with a fix.

Works from the typed settings alone, so keys other parts of dockyard add are checked without
changes here.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from dockyard.config.settings import CONFIG_FILE_ENV, Settings

ENV_PREFIX = "DOCKYARD_"
_NOT_SETTINGS = frozenset({CONFIG_FILE_ENV})
# Paths dockyard creates when missing; only their parent directory must exist.
_CREATED_PATHS = frozenset({"data_dir", "access_log_file"})


@dataclass(frozen=True, slots=True)
class Problem:
    key: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}; {self.fix}"


def _model_at(model: type[BaseModel], path: tuple[str, ...]) -> type[BaseModel] | None:
    """The settings model holding the keys under `path`, or None when `path` leads to a plain value."""
    for part in path:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _unknown_key(path: tuple[str, ...], where: str) -> Problem:
    """Name the first part of `path` that is no key, with the closest known key as the fix."""
    model: type[BaseModel] = Settings
    for depth, part in enumerate(path):
        inner = _model_at(model, (part,))
        if part not in model.model_fields:
            break
        if inner is None and depth < len(path) - 1:
            section = ".".join(path[: depth + 1])
            return Problem(".".join(path), f"{section} has no keys inside it {where}", f"set {section} itself")
        model = inner or model
    else:
        return Problem(".".join(path), f"is not a key {where}", "see `dockyard config schema`")
    known = list(model.model_fields)
    close = difflib.get_close_matches(part, known, n=1)
    fix = f"did you mean {'.'.join((*path[:depth], close[0]))}?" if close else f"known keys: {', '.join(known)}"
    return Problem(".".join(path), f"unknown key {where}", fix)


def unknown_environment(environ: dict[str, str] | None = None) -> list[str]:
    """DOCKYARD_* variables that name no setting (a typo such as DOCKYARD_DATABSE__URL)."""
    unknown = []
    for variable in sorted(os.environ if environ is None else environ):
        if not variable.startswith(ENV_PREFIX) or variable in _NOT_SETTINGS:
            continue
        path = tuple(variable[len(ENV_PREFIX) :].lower().split("__"))
        model = _model_at(Settings, path[:-1])
        if model is None or path[-1] not in model.model_fields:
            unknown.append(variable)
    return unknown


def _item_model(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    """The model of the entries of `key` when it is a list of sections (`proxy.upstreams`)."""
    field = model.model_fields.get(key)
    if field is None or get_origin(field.annotation) is not list:
        return None
    (item,) = get_args(field.annotation)
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def _unknown_file_keys(
    document: object, path: tuple[str, ...] = (), model: type[BaseModel] | None = Settings
) -> Iterator[Problem]:
    """Every key of the file that names no setting, at any depth (entries of lists of sections
    too), even in sections that would silently ignore it."""
    if model is None or not isinstance(document, dict):
        return
    for key, value in document.items():
        name = str(key)
        if name not in model.model_fields:
            yield _unknown_file_key(model, (*path, name))
            continue
        item = _item_model(model, name)
        if item is not None and isinstance(value, list):
            for index, entry in enumerate(value):
                yield from _unknown_file_keys(entry, (*path, name, str(index)), item)
        else:
            yield from _unknown_file_keys(value, (*path, name), _model_at(model, (name,)))


def _unknown_file_key(model: type[BaseModel], path: tuple[str, ...]) -> Problem:
    """A key of the file that `model` (the section at `path[:-1]`) lacks, with the closest known key as the fix."""
    known = list(model.model_fields)
    close = difflib.get_close_matches(path[-1], known, n=1)
    fix = f"did you mean {'.'.join((*path[:-1], close[0]))}?" if close else f"known keys: {', '.join(known)}"
    return Problem(".".join(path), "unknown key in the file", fix)


def _validation_problems(error: ValidationError) -> Iterator[Problem]:
    for detail in error.errors():
        path = tuple(str(part) for part in detail["loc"])
        if detail["type"] != "extra_forbidden":  # unknown keys are reported from the file itself
            yield Problem(".".join(path) or "(top level)", _described(detail), _fix_for(path))


def _described(detail: ErrorDetails) -> str:
    # A whole section's input is not echoed: it may hold a password beside the key at fault.
    shown = "input" in detail and not isinstance(detail["input"], dict | list)
    return f"{detail['msg']} (got {detail['input']!r})" if shown else detail["msg"]


def _fix_for(path: tuple[str, ...]) -> str:
    model = _model_at(Settings, path[:-1])
    field = model.model_fields.get(path[-1]) if model and path else None
    if field is None:
        return "see `dockyard config schema`"
    default = field.get_default(call_default_factory=True)
    shown = default.model_dump() if isinstance(default, BaseModel) else default
    return f"remove it to use the default ({shown!r}), or see `dockyard config schema`"


def _path_problems(model: BaseModel, prefix: tuple[str, ...] = ()) -> Iterator[Problem]:
    for name in type(model).model_fields:
        value: Any = getattr(model, name)
        key = (*prefix, name)
        if isinstance(value, BaseModel):
            yield from _path_problems(value, key)
        elif isinstance(value, Path):
            must_exist = value.parent if name in _CREATED_PATHS else value
            if not must_exist.exists():
                yield Problem(".".join(key), f"{must_exist} does not exist", "create it or correct the path")


def _file_problems(config_file: Path) -> Iterator[Problem]:
    if not config_file.is_file():
        yield Problem("(file)", f"{config_file} does not exist", "give the path of a YAML file")
        return
    try:
        document = yaml.safe_load(config_file.read_text())
    except yaml.YAMLError as error:
        yield Problem("(file)", "not valid YAML: " + " ".join(str(error).split()), "correct the YAML syntax")
        return
    if document is not None and not isinstance(document, dict):
        yield Problem("(file)", "the top level is not a mapping of keys", "write `key: value` lines")
        return
    yield from _unknown_file_keys(document)


def check(config_file: Path | None) -> tuple[Settings | None, list[Problem]]:
    """The settings a server would run with from this file and the environment, and every problem."""
    problems = [
        _unknown_key(tuple(variable[len(ENV_PREFIX) :].lower().split("__")), f"({variable} in the environment)")
        for variable in unknown_environment()
    ]
    if config_file is not None:
        problems.extend(_file_problems(config_file))
        if problems and problems[-1].key == "(file)":
            return None, problems
        os.environ[CONFIG_FILE_ENV] = str(config_file)
    try:
        settings = Settings()
    except ValidationError as error:
        return None, [*problems, *_validation_problems(error)]
    return settings, [*problems, *_path_problems(settings)]

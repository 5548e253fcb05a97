"""Judging a configuration before a server runs on it: every problem named by its key, with a fix.

Works from the typed settings alone, so keys other parts of dockyard add are checked without
changes here.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import typing
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


def _section_of(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds, also when it is optional (`S3Storage | None`)."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _model_at(model: type[BaseModel], path: tuple[str, ...]) -> type[BaseModel] | None:
    """The settings model holding the keys under `path`, or None when `path` leads to a plain value."""
    for part in path:
        field = model.model_fields.get(part)
        section = _section_of(field.annotation) if field else None
        if section is None:
            return None
        model = section
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


def _validation_problems(error: ValidationError, reported: set[str]) -> Iterator[Problem]:
    """Pydantic's findings in the words of `config check`: the key and what is wrong, never the value
    (it may be a secret) and never a link to pydantic's site. Unknown keys already found in the file
    or the environment are not repeated."""
    for detail in error.errors(include_url=False, include_input=False):
        path = tuple(str(part) for part in detail["loc"])
        key = ".".join(path) or "(top level)"
        if detail["type"] == "extra_forbidden":
            if key not in reported:  # e.g. inside a list entry, where the file walk does not reach
                yield Problem(key, "unknown key", "see `dockyard config schema`")
        else:
            yield Problem(key, _described(detail), _fix_for(path))


def _described(detail: ErrorDetails) -> str:
    return detail["msg"]


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


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def consistency_problems(settings: Settings) -> list[Problem]:
    """Settings each valid alone that do not go together; `dockyard serve` refuses to start on them."""
    problems = []
    auth = settings.auth
    if auth.token.enabled and auth.external_url is None and not _is_loopback(settings.host):
        problems.append(
            Problem(
                "auth.external_url",
                f"token mode on {settings.listen}, an address other machines reach, needs the URL they use: "
                "the token realm is never taken from a request's Host header",
                "set auth.external_url, e.g. https://registry.example.com",
            )
        )
    if auth.oidc is not None and auth.external_url is None and not _is_loopback(settings.host):
        problems.append(
            Problem(
                "auth.external_url",
                f"single sign-on on {settings.listen}, an address other machines reach, needs the URL browsers "
                "use: the redirect URI registered at the identity provider is built on it",
                "set auth.external_url, e.g. https://registry.example.com",
            )
        )
    return problems


def _file_problems(config_file: Path) -> Iterator[Problem]:
    if not config_file.is_file():
        yield Problem("(file)", f"{config_file} does not exist", "give the path of a YAML file")
        return
    try:
        document = yaml.safe_load(config_file.read_text())
    except yaml.YAMLError as error:
        yield Problem("(file)", f"not valid YAML{_yaml_position(error)}", "correct the YAML syntax")
        return
    if document is not None and not isinstance(document, dict):
        yield Problem("(file)", "the top level is not a mapping of keys", "write `key: value` lines")
        return
    yield from _unknown_file_keys(document)


def _yaml_position(error: yaml.YAMLError) -> str:
    """Where the parser gave up and why, without the snippet of the line it would quote (a secret may
    be on it)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {problem}" if problem else where


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
    try:
        settings = _settings_from(config_file)
    except ValidationError as error:
        return None, [*problems, *_validation_problems(error, {problem.key for problem in problems})]
    return settings, [*problems, *_path_problems(settings), *consistency_problems(settings)]


def _settings_from(config_file: Path | None) -> Settings:
    """Settings read from `config_file` (else the file the environment names) and the environment.
    The settings find their file through the environment, which is left as it was: a check run in a
    process that goes on (a test, a caller) must not point its later settings at the checked file."""
    if config_file is None:
        return Settings()
    previous = os.environ.get(CONFIG_FILE_ENV)
    os.environ[CONFIG_FILE_ENV] = str(config_file)
    try:
        return Settings()
    finally:
        if previous is None:
            del os.environ[CONFIG_FILE_ENV]
        else:
            os.environ[CONFIG_FILE_ENV] = previous


def refusal(error: Exception) -> str:
    """What a command prints when the settings cannot be loaded: `config check`'s findings, each with
    its key and a fix, never a value."""
    if isinstance(error, FileNotFoundError):
        return f"dockyard: invalid configuration: {error}"
    named = os.environ.get(CONFIG_FILE_ENV)
    problems = check(Path(named) if named else None)[1]
    lines = [f"error: {problem}" for problem in problems]
    lines.append(f"dockyard: invalid configuration: {len(problems) or 'a'} problem(s); see `dockyard config check`")
    return "\n".join(lines)

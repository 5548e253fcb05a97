"""Parsing and validating manifests: OCI image manifest and index, Docker schema2 and manifest list.

The registry stores and serves the bytes it received; parsing only extracts what the registry
must know about them (what they reference, their subject, their artifact type) and rejects
what is not a manifest.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from dockyard.core import mediatypes
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    blobs: tuple[Descriptor, ...]
    """Blobs that must exist in the repository: the config and every distributable layer."""
    children: tuple[Descriptor, ...]
    """Manifests an index points at."""
    subject: Descriptor | None
    artifact_type: str | None
    """The type reported by the referrers API: `artifactType`, else the config's media type."""
    annotations: dict[str, str]


def _invalid(message: str) -> RegistryError:
    return RegistryError(ErrorCode.MANIFEST_INVALID, message)


def _string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _invalid(f"{where}: annotations must map strings to strings")
    return value


def _optional_string(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{where} must be a string")
    return value


def _optional_media_type(value: Any, where: str) -> str | None:
    """A media type the registry keeps (an artifact type): stored in the database, filtered on."""
    text = _optional_string(value, where)
    if text and not mediatypes.is_media_type(text):
        raise _invalid(f"{where} must be a media type (printable ASCII, at most {mediatypes.MAX_LENGTH} characters)")
    return text


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not mediatypes.is_media_type(media_type):
        raise _invalid(f"{where}: mediaType must be a media type (printable ASCII)")
    digest_text = value.get("digest")
    if not isinstance(digest_text, str):
        raise _invalid(f"{where}: digest must be a string")
    try:
        digest = Digest.parse(digest_text)
    except RegistryError as error:
        raise _invalid(f"{where}: {error.message}") from None
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where}: size must be a non-negative integer")
    urls = value.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
        raise _invalid(f"{where}: urls must be a list of strings")
    if "data" in value:
        _check_embedded_data(value["data"], digest, size, where)
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        urls=tuple(urls),
        artifact_type=_optional_media_type(value.get("artifactType"), f"{where}: artifactType"),
        annotations=_string_map(value.get("annotations"), where),
    )


def _check_embedded_data(data: Any, digest: Digest, size: int, where: str) -> None:
    if not isinstance(data, str):
        raise _invalid(f"{where}: data must be a base64 string")
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(f"{where}: data is not valid base64") from None
    if len(content) != size or not digest.matches(content):
        raise _invalid(f"{where}: data does not match the descriptor's digest and size")


def _descriptor_list(value: Any, where: str) -> tuple[Descriptor, ...]:
    if not isinstance(value, list):
        raise _invalid(f"{where} must be a list of descriptors")
    return tuple(_descriptor(item, f"{where}[{i}]") for i, item in enumerate(value))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of the manifest; a key given twice is refused, since parsers disagree on which one
    wins: the registry could see (and keep from GC) other layers than a client pulls."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _invalid(f"manifest has the key {key[:100]!r} twice in one object")
        document[key] = value
    return document


def _no_constant(name: str) -> Any:
    raise _invalid(f"manifest is not valid JSON: {name} is not a JSON number")


def _decode_json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise _invalid("manifest is not UTF-8") from None
    except (ValueError, RecursionError):
        raise _invalid("manifest is not valid JSON") from None
    if not isinstance(document, dict):
        raise _invalid("manifest must be a JSON object")
    return document


def _media_type(document: dict[str, Any], content_type: str | None) -> str:
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType must be a string")
    header = content_type.split(";", 1)[0].strip() if content_type else None
    if declared and header and header != declared:
        raise _invalid(f"Content-Type {header!r} does not match the manifest's mediaType {declared!r}")
    media_type = declared or header
    if media_type in mediatypes.DOCKER_SCHEMA1:
        raise _invalid("Docker schema 1 manifests are not supported; push schema 2 or OCI")
    if media_type not in mediatypes.MANIFESTS:
        raise _invalid(f"unsupported manifest media type: {str(media_type)[:100]!r}")
    return media_type


def parse_manifest(body: bytes, content_type: str | None) -> Manifest:
    document = _decode_json(body)
    media_type = _media_type(document, content_type)
    if document.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    artifact_type = _optional_media_type(document.get("artifactType"), "artifactType")
    subject = _descriptor(document["subject"], "subject") if document.get("subject") is not None else None
    annotations = _string_map(document.get("annotations"), "manifest")
    if media_type in mediatypes.INDEXES:
        return Manifest(
            media_type=media_type,
            blobs=(),
            children=_descriptor_list(document.get("manifests"), "manifests"),
            subject=subject,
            artifact_type=artifact_type,
            annotations=annotations,
        )
    config = _descriptor(document.get("config"), "config")
    layers = _descriptor_list(document.get("layers"), "layers")
    # Non-distributable layers carry `urls` and are fetched from there, not pushed to us.
    distributable = tuple(layer for layer in layers if not layer.urls)
    return Manifest(
        media_type=media_type,
        blobs=(config, *distributable),
        children=(),
        subject=subject,
        artifact_type=artifact_type or config.media_type,
        annotations=annotations,
    )

"""What the web UI shows of one manifest, described as plain JSON-ready values.

Everything comes from the stored manifest bytes, the image config blob and the referrers index of
the metadata store; nothing is fetched from outside the registry.
"""

from __future__ import annotations

import json
from typing import Any

from dockyard.core import mediatypes

IMAGE_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
# Enough for any real image's history; a config claiming more is cut short, not refused.
_MAX_HISTORY = 500


def kind_of(document: dict[str, Any], media_type: str) -> str:
    """`index`, `image` or `artifact` (anything whose config is not an image config)."""
    if media_type in mediatypes.INDEXES:
        return "artifact" if document.get("artifactType") else "index"
    config = document.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    if document.get("artifactType") or config_type not in IMAGE_CONFIGS:
        return "artifact"
    return "image"


def descriptor_view(value: Any) -> dict[str, Any]:
    """The fields of a descriptor the UI shows; tolerant of whatever extra fields it has."""
    if not isinstance(value, dict):
        return {}
    view = {key: value[key] for key in ("mediaType", "digest", "size", "artifactType", "annotations") if key in value}
    platform = value.get("platform")
    if isinstance(platform, dict):
        view["platform"] = platform_name(platform)
    return view


def platform_name(platform: dict[str, Any]) -> str:
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    return "/".join(str(part) for part in parts if part)


def config_view(raw: bytes | None) -> dict[str, Any]:
    """os/arch, creation time, labels and history of an image config; empty when unreadable."""
    try:
        config = json.loads(raw) if raw is not None else None
    except (ValueError, RecursionError):
        return {}
    if not isinstance(config, dict):
        return {}
    runtime: dict[str, Any] = config["config"] if isinstance(config.get("config"), dict) else {}
    history: list[Any] = config["history"] if isinstance(config.get("history"), list) else []
    view: dict[str, Any] = {
        key: config[key] for key in ("os", "architecture", "variant", "created", "author") if key in config
    }
    view["platform"] = platform_name(config)
    view["labels"] = runtime.get("Labels") or {}
    for key in ("Entrypoint", "Cmd", "Env", "WorkingDir", "User", "ExposedPorts"):
        if runtime.get(key):
            view[key[0].lower() + key[1:]] = runtime[key]
    view["history"] = [
        {key: entry[key] for key in ("created", "created_by", "comment", "empty_layer") if key in entry}
        for entry in history[:_MAX_HISTORY]
        if isinstance(entry, dict)
    ]
    return view


def pull_commands(host: str, repository: str, tag: str | None, digest: str, kind: str) -> list[dict[str, str]]:
    """Commands that fetch the manifest by tag (when it has one) and by digest."""
    tools = ["oras pull"] if kind == "artifact" else ["docker pull", "podman pull"]
    references = [f"{host}/{repository}:{tag}"] if tag else []
    references.append(f"{host}/{repository}@{digest}")
    return [
        {"tool": tool.split()[0], "reference": reference, "command": f"{tool} {reference}"}
        for reference in references
        for tool in tools
    ]

"""Distribution's notification events, field for field, so that existing receivers work unchanged.

An event is serialized once, when it is stored; an envelope is the stored events joined.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
# What Distribution reports as the media type of a blob it pushed or mounted.
BLOB_MEDIA_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Origin:
    """The request that caused an event, as Distribution's `request` and `actor` records describe it."""

    request_id: str
    addr: str
    host: str
    method: str
    useragent: str
    scheme: str = "http"
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    repository: str
    digest: str | None = None
    media_type: str | None = None
    size: int | None = None
    tag: str | None = None
    from_repository: str | None = None
    kind: str = "manifests"
    """Which URL path the content lives under: manifests or blobs (None: no URL, e.g. deletes)."""


@dataclass(frozen=True, slots=True)
class Source:
    """This registry process: Distribution's `source` record."""

    addr: str
    instance_id: str

    @classmethod
    def of_this_process(cls, port: int) -> Source:
        return cls(f"{socket.gethostname()}:{port}", str(uuid.uuid4()))


def _target(target: Target, origin: Origin, with_url: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if target.media_type is not None:
        fields["mediaType"] = target.media_type
    if target.digest is not None:
        fields["digest"] = target.digest
    if target.size is not None:
        fields["size"] = target.size
        fields["length"] = target.size  # Distribution keeps it for older receivers
    fields["repository"] = target.repository
    if target.from_repository is not None:
        fields["fromRepository"] = target.from_repository
    if with_url and target.digest is not None and origin.host:
        fields["url"] = f"{origin.scheme}://{origin.host}/v2/{target.repository}/{target.kind}/{target.digest}"
    if target.tag is not None:
        fields["tag"] = target.tag
    return fields


def event(action: str, target: Target, origin: Origin, source: Source, timestamp: float) -> str:
    """One event as JSON. Deletes carry no URL: the content is gone."""
    record = {
        "id": str(uuid.uuid4()),
        "timestamp": datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z"),
        "action": action,
        "target": _target(target, origin, with_url=action != "delete"),
        "request": {
            "id": origin.request_id,
            "addr": origin.addr,
            "host": origin.host,
            "method": origin.method,
            "useragent": origin.useragent,
        },
        "actor": {"name": origin.actor} if origin.actor else {},
        "source": {"addr": source.addr, "instanceID": source.instance_id},
    }
    return json.dumps(record, separators=(",", ":"))


def envelope(events: Sequence[str]) -> bytes:
    return ('{"events":[' + ",".join(events) + "]}").encode()

"""Distribution's notification events, field for field, so that existing receivers work unchanged.

An event is serialized once, when it is stored; an envelope is the stored events joined.
"""

from __future__ import annotations

import functools
import json
import random
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _str

MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
# What Distribution reports as the media type of a blob it pushed or mounted.
BLOB_MEDIA_TYPE = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Origin:
    """The request that caused an event, as Distribution's `request` and `actor` records describe it."""

    request_id: str | None
    """None: a fresh id is made when the event is serialized, off the request's path."""
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


@dataclass(frozen=True)
class Source:
    """This registry process: Distribution's `source` record."""

    addr: str
    instance_id: str

    @functools.cached_property
    def json(self) -> str:
        return json.dumps({"addr": self.addr, "instanceID": self.instance_id}, separators=(",", ":"))

    @classmethod
    def of_this_process(cls, port: int) -> Source:
        return cls(f"{socket.gethostname()}:{port}", str(uuid.uuid4()))


def new_id() -> str:
    """A random (version 4) UUID, as Distribution gives events and requests. Ids are not secrets,
    so the fast generator serves; formatted by hand, at half the cost of uuid.UUID."""
    bits = random.getrandbits(128) & ~(0xC000 << 48) & ~(0xF000 << 64) | (0x8000 << 48) | (4 << 76)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@functools.lru_cache(maxsize=4)
def _second(whole: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))


def _timestamp(at: float) -> str:
    """RFC 3339 in UTC with microseconds, as Go's time.Time marshals it (there: nanoseconds)."""
    whole = int(at)
    return f"{_second(whole)}.{int((at - whole) * 1e6):06d}Z"


def _target(target: Target, origin: Origin, with_url: bool) -> str:
    fields = []
    if target.media_type is not None:
        fields.append(f'"mediaType":{_str(target.media_type)}')
    if target.digest is not None:
        fields.append(f'"digest":{_str(target.digest)}')
    if target.size is not None:
        fields.append(f'"size":{target.size:d},"length":{target.size:d}')  # length: for older receivers
    fields.append(f'"repository":{_str(target.repository)}')
    if target.from_repository is not None:
        fields.append(f'"fromRepository":{_str(target.from_repository)}')
    if with_url and target.digest is not None and origin.host:
        url = f"{origin.scheme}://{origin.host}/v2/{target.repository}/{target.kind}/{target.digest}"
        fields.append(f'"url":{_str(url)}')
    if target.tag is not None:
        fields.append(f'"tag":{_str(target.tag)}')
    return "{" + ",".join(fields) + "}"


def event(action: str, target: Target, origin: Origin, source: Source, timestamp: float) -> str:
    """One event as JSON, built as text: pulls are serialized by the thousand. Deletes carry no
    URL: the content is gone."""
    actor = f'{{"name":{_str(origin.actor)}}}' if origin.actor else "{}"
    return (
        f'{{"id":"{new_id()}","timestamp":"{_timestamp(timestamp)}","action":{_str(action)},'
        f'"target":{_target(target, origin, with_url=action != "delete")},'
        f'"request":{{"id":{_str(origin.request_id or new_id())},"addr":{_str(origin.addr)},'
        f'"host":{_str(origin.host)},"method":{_str(origin.method)},"useragent":{_str(origin.useragent)}}},'
        f'"actor":{actor},"source":{source.json}}}'
    )


def envelope(events: Sequence[str]) -> bytes:
    return ('{"events":[' + ",".join(events) + "]}").encode()

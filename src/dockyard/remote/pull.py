"""The pull side of the client: the API check, manifests, blobs, tags and referrers.

Every repository, reference and digest is validated by core before it goes into a URL, and everything
the remote answers is checked before it is believed: manifest bodies against their digest, sizes against
Content-Length and Content-Range, pagination links only for their query.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import aiohttp

from dockyard.core import mediatypes
from dockyard.core.digest import Digest
from dockyard.core.errors import RegistryError
from dockyard.core.manifest import Descriptor, parse_manifest
from dockyard.core.names import is_name, is_tag, parse_reference, validate_name
from dockyard.remote.errors import RemoteInvalid, RemoteNotFound
from dockyard.remote.headers import media_type, parse_content_range
from dockyard.remote.tokens import Scopes, repository_scope
from dockyard.remote.transport import Transport, same_origin

MANIFEST_ACCEPT = (
    mediatypes.OCI_MANIFEST,
    mediatypes.OCI_INDEX,
    mediatypes.DOCKER_MANIFEST,
    mediatypes.DOCKER_MANIFEST_LIST,
)
DEFAULT_MANIFEST_LIMIT = 4 << 20
_LIST_LIMIT = 16 << 20
_MAX_PAGES = 10_000


class ManifestHead(NamedTuple):
    digest: Digest
    media_type: str
    size: int


class FetchedManifest(NamedTuple):
    digest: Digest
    media_type: str
    body: bytes


class BlobStream(NamedTuple):
    size: int
    """Bytes this stream carries: the blob's size, less `start` when a range was asked for."""
    total: int
    """The whole blob's size."""
    chunks: AsyncIterator[bytes]


def as_digest(digest: Digest | str) -> Digest:
    return digest if isinstance(digest, Digest) else Digest.parse(digest)


def manifest_path(repository: str, reference: str | Digest) -> tuple[str, str | Digest]:
    """The path of a manifest and the parsed reference (a tag or a Digest)."""
    parsed = reference if isinstance(reference, Digest) else parse_reference(reference)
    return f"/v2/{validate_name(repository)}/manifests/{parsed}", parsed


def referrers_tag(digest: Digest) -> str:
    """The tag under which referrers are kept where the referrers API is missing (OCI spec)."""
    return f"{digest.algorithm[:32]}-{digest.encoded[:64]}"


def pull_scopes(repository: str) -> Scopes:
    return frozenset({repository_scope(repository, "pull")})


_CATALOG_SCOPES: Scopes = frozenset({"registry:catalog:*"})


@dataclass(frozen=True, slots=True)
class _Listing:
    """A paged list of names: a repository's tags, or the catalog."""

    path: str
    key: str
    """The JSON field holding the names."""
    scopes: Scopes
    valid: Callable[[str], bool]

    def query(self, n: int | None, last: str | None) -> str:
        if n is not None and n < 0:
            raise ValueError("n must not be negative")
        if last is not None and not self.valid(last):
            raise ValueError(f"invalid name for last: {last[:80]!r}")
        return urlencode([(key, str(value)) for key, value in (("n", n), ("last", last)) if value is not None])


class PullOperations:
    _transport: Transport

    @property
    def _remote(self) -> str:
        return self._transport.remote

    async def check(self) -> None:
        """GET /v2/: the remote speaks the API and accepts our credentials (if it wants any)."""
        async with self._transport.exchange("GET", "/v2/", scopes=frozenset(), expect=(200,)):
            pass

    async def head_manifest(
        self, repository: str, reference: str | Digest, accept: Sequence[str] = MANIFEST_ACCEPT
    ) -> ManifestHead:
        """Digest, media type and size without the body (a HEAD, which Docker Hub does not count). A
        remote that leaves out Docker-Content-Digest for a tag, or Content-Type, is asked with a GET."""
        path, parsed = manifest_path(repository, reference)
        headers = {"Accept": ", ".join(accept)}
        scopes = pull_scopes(repository)
        async with self._transport.exchange(
            "HEAD", path, scopes=scopes, expect=(200,), headers=headers, follow_redirects=True
        ) as response:
            announced = self._announced_digest(response, f"HEAD {path}")
            kind = media_type(response.headers.get("Content-Type"))
            size = response.content_length
        digest = parsed if isinstance(parsed, Digest) else announced
        if isinstance(parsed, Digest) and announced is not None and announced != parsed:
            raise RemoteInvalid(self._remote, f"HEAD {path}: answered for {announced}")
        if digest is None or kind not in mediatypes.MANIFESTS or size is None:
            fetched = await self.get_manifest(repository, parsed, accept)
            return ManifestHead(fetched.digest, fetched.media_type, len(fetched.body))
        return ManifestHead(digest, kind, size)

    async def get_manifest(
        self,
        repository: str,
        reference: str | Digest,
        accept: Sequence[str] = MANIFEST_ACCEPT,
        *,
        max_bytes: int = DEFAULT_MANIFEST_LIMIT,
    ) -> FetchedManifest:
        """The manifest's bytes exactly as the remote holds them, checked against the digest asked for
        (by digest) or the one announced (by tag; computed as sha256 when none is)."""
        path, parsed = manifest_path(repository, reference)
        what = f"GET {path}"
        headers = {"Accept": ", ".join(accept)}
        async with self._transport.exchange(
            "GET", path, scopes=pull_scopes(repository), expect=(200,), headers=headers, follow_redirects=True
        ) as response:
            announced = self._announced_digest(response, what)
            content_type = response.headers.get("Content-Type")
            body = await self._transport.read_body(response, max_bytes, what)
        expected = parsed if isinstance(parsed, Digest) else announced
        digest = Digest.of(body, expected.algorithm) if expected else Digest.of(body)
        if expected is not None and digest != expected:
            raise RemoteInvalid(self._remote, f"{what}: the body's digest is {digest}, not {expected}")
        return FetchedManifest(digest, self._manifest_type(content_type, body, what), body)

    def _announced_digest(self, response: aiohttp.ClientResponse, what: str) -> Digest | None:
        header = response.headers.get("Docker-Content-Digest")
        if not header:
            return None
        try:
            return Digest.parse(header.strip())
        except RegistryError:
            raise RemoteInvalid(self._remote, f"{what}: malformed Docker-Content-Digest {header[:100]!r}") from None

    def _manifest_type(self, content_type: str | None, body: bytes, what: str) -> str:
        """Content-Type, unless it is missing or generic; then the body's own mediaType."""
        kind = media_type(content_type)
        if kind in mediatypes.MANIFESTS or kind in mediatypes.DOCKER_SCHEMA1:
            return kind
        try:
            declared = json.loads(body).get("mediaType")
        except (ValueError, AttributeError, RecursionError):
            declared = None
        if isinstance(declared, str) and declared:
            return declared
        if kind is None:
            raise RemoteInvalid(self._remote, f"{what}: neither Content-Type nor the body names a media type")
        return kind

    async def head_blob(self, repository: str, digest: Digest | str) -> int | None:
        """The blob's size, or None when the remote does not have it."""
        path = f"/v2/{validate_name(repository)}/blobs/{as_digest(digest)}"
        try:
            async with self._transport.exchange(
                "HEAD", path, scopes=pull_scopes(repository), expect=(200,), follow_redirects=True
            ) as response:
                size = response.content_length
        except RemoteNotFound:
            return None
        if size is None:
            raise RemoteInvalid(self._remote, f"HEAD {path}: no Content-Length")
        return size

    @asynccontextmanager
    async def get_blob(
        self, repository: str, digest: Digest | str, start: int | None = None
    ) -> AsyncIterator[BlobStream]:
        """Stream a blob (from `start` on), following redirects; the connection is held until exit.

        The chunks come as they arrive (constant memory); the caller verifies the digest as it stores
        them. A stall longer than `read_timeout` or a broken connection raises RemoteUnavailable from
        the iteration. A remote that ignores the Range is answered by skipping the bytes before `start`."""
        if start is not None and start < 0:
            raise ValueError("start must not be negative")
        path = f"/v2/{validate_name(repository)}/blobs/{as_digest(digest)}"
        headers = {"Range": f"bytes={start}-"} if start else {}
        async with self._transport.exchange(
            "GET", path, scopes=pull_scopes(repository), expect=(200, 206), headers=headers, follow_redirects=True
        ) as response:
            size, total, skip = self._extent(response, start or 0, f"GET {path}")
            yield BlobStream(size, total, self._blob_chunks(response, skip, size, f"GET {path}"))

    def _extent(self, response: aiohttp.ClientResponse, start: int, what: str) -> tuple[int, int, int]:
        """(bytes the stream yields, the blob's total size, bytes to skip first)."""
        length = response.content_length
        if length is None:
            raise RemoteInvalid(self._remote, f"{what}: no Content-Length")
        if response.status == 200:
            if start > length:
                raise RemoteInvalid(self._remote, f"{what}: start {start} is past the blob's {length} bytes")
            return length - start, length, start
        extent = parse_content_range(response.headers.get("Content-Range"))
        if extent is None or extent[0] != start or extent[1] - extent[0] + 1 != length:
            raise RemoteInvalid(self._remote, f"{what}: a 206 whose Content-Range does not match the range asked")
        total = extent[2] if extent[2] is not None else start + length
        if extent[1] != total - 1:
            raise RemoteInvalid(self._remote, f"{what}: a 206 that stops short of the blob's end")
        return length, total, 0

    async def _blob_chunks(
        self, response: aiohttp.ClientResponse, skip: int, size: int, what: str
    ) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self._transport.body_chunks(response, what):
            piece = chunk
            if skip:  # the remote ignored our Range: drop what comes before `start`
                dropped = min(skip, len(chunk))
                skip -= dropped
                piece = chunk[dropped:]
                if not piece:
                    continue
            received += len(piece)
            yield piece
        if received != size:
            raise RemoteInvalid(self._remote, f"{what}: body ended after {received} of {size} bytes")

    async def list_tags(self, repository: str, n: int | None = None, last: str | None = None) -> list[str]:
        """Every tag after `last` (all of them without it) in lexical order, asked for in pages of `n`
        following the `Link`s. Order and `last` are applied here too: Distribution 2.8 ignores both."""
        listing = _Listing(f"/v2/{validate_name(repository)}/tags/list", "tags", pull_scopes(repository), is_tag)
        return await self._list(listing, n, last)

    async def list_repositories(self, n: int | None = None, last: str | None = None) -> list[str]:
        """The remote's catalog after `last`, in lexical order, in pages of `n` (RemoteDenied or
        RemoteNotFound where the remote does not offer it, as Docker Hub)."""
        return await self._list(_Listing("/v2/_catalog", "repositories", _CATALOG_SCOPES, is_name), n, last)

    async def _list(self, listing: _Listing, n: int | None, last: str | None) -> list[str]:
        path = listing.path
        names: set[str] = set()
        query = listing.query(n, last)
        for _ in range(_MAX_PAGES):
            page, next_query = await self._list_page(listing, query)
            names.update(page)
            if next_query is None:
                return sorted(name for name in names if last is None or name > last)
            following = dict(parse_qsl(next_query))
            page_n, page_last = following.get("n"), following.get("last")
            if page_last is None or not listing.valid(page_last) or (page_n is not None and not page_n.isdigit()):
                raise RemoteInvalid(self._remote, f"GET {path}: a next link without a usable n and last")
            next_page = listing.query(int(page_n) if page_n else None, page_last)
            if next_page == query:
                raise RemoteInvalid(self._remote, f"GET {path}: a next link back to the same page")
            query = next_page
        raise RemoteInvalid(self._remote, f"GET {path}: more than {_MAX_PAGES} pages")

    async def _list_page(self, listing: _Listing, query: str) -> tuple[list[str], str | None]:
        """One page of a list: its names and the query of the next page, if any."""
        path = listing.path
        target = f"{path}?{query}" if query else path
        async with self._transport.exchange("GET", target, scopes=listing.scopes, expect=(200,)) as response:
            body = await self._transport.read_body(response, _LIST_LIMIT, f"GET {path}")
            next_query = self._next_query(response, path)
        try:
            names = json.loads(body).get(listing.key) or []
        except (ValueError, AttributeError, RecursionError):
            raise RemoteInvalid(self._remote, f"GET {path}: not a JSON object") from None
        if not isinstance(names, list) or not all(isinstance(name, str) and listing.valid(name) for name in names):
            raise RemoteInvalid(self._remote, f"GET {path}: {listing.key} is not a list of valid {listing.key}")
        return names, next_query

    def _next_query(self, response: aiohttp.ClientResponse, path: str) -> str | None:
        """The query of the `Link: <...>; rel="next"`, which must point at the same path on the remote."""
        link = response.links.get("next")
        if link is None:
            return None
        target = urlsplit(str(link.get("url", "")))
        elsewhere = bool(target.netloc) and not same_origin(target.geturl(), self._remote)
        if elsewhere or unquote(target.path) != path:
            raise RemoteInvalid(self._remote, f"GET {path}: a next link to another place")
        return target.query

    async def referrers(
        self, repository: str, digest: Digest | str, artifact_type: str | None = None
    ) -> list[Descriptor]:
        """The manifests whose subject is `digest`, from the referrers API, or from the tag schema
        (`sha256-<hex>`) where that API answers 404; filtered by `artifact_type` if given."""
        subject = as_digest(digest)
        path = f"/v2/{validate_name(repository)}/referrers/{subject}"
        query = urlencode([("artifactType", artifact_type)]) if artifact_type else ""
        found: list[Descriptor] = []
        try:
            for _ in range(_MAX_PAGES):
                page, query_next, filtered = await self._referrers_page(repository, path, query)
                found.extend(page)
                if query_next is None:
                    break
                query = query_next
        except RemoteNotFound:
            return await self._referrers_by_tag(repository, subject, artifact_type)
        return [d for d in found if filtered or artifact_type is None or d.artifact_type == artifact_type]

    async def _referrers_page(
        self, repository: str, path: str, query: str
    ) -> tuple[list[Descriptor], str | None, bool]:
        target = f"{path}?{query}" if query else path
        headers = {"Accept": mediatypes.OCI_INDEX}
        async with self._transport.exchange(
            "GET", target, scopes=pull_scopes(repository), expect=(200,), headers=headers
        ) as response:
            body = await self._transport.read_body(response, _LIST_LIMIT, f"GET {path}")
            next_query = self._next_query(response, path)
            filtered = "artifactType" in response.headers.get("OCI-Filters-Applied", "")
        return self._index_children(body, f"GET {path}"), next_query, filtered

    async def _referrers_by_tag(self, repository: str, subject: Digest, artifact_type: str | None) -> list[Descriptor]:
        try:
            index = await self.get_manifest(repository, referrers_tag(subject), (mediatypes.OCI_INDEX,))
        except RemoteNotFound:
            return []
        children = self._index_children(index.body, f"referrers tag of {subject}")
        return [d for d in children if artifact_type is None or d.artifact_type == artifact_type]

    def _index_children(self, body: bytes, what: str) -> list[Descriptor]:
        try:
            index = parse_manifest(body, mediatypes.OCI_INDEX)
        except RegistryError as error:
            raise RemoteInvalid(self._remote, f"{what}: {error.message}") from None
        if index.media_type != mediatypes.OCI_INDEX:
            raise RemoteInvalid(self._remote, f"{what}: not an OCI image index")
        return list(index.children)

"""The push side of the client: mounts, blob uploads (monolithic or chunked, resumable), manifests and
deletions.

A chunked upload that fails part way is resumed, not restarted: the client asks the upload URL how much
the remote holds (`GET`, its `Range`) and continues from there with `chunks_factory(offset)`. When the
attempts run out, `UploadInterrupted` carries the session so that a later call can resume it; a caller
that must outlive the process learns each new session (`on_session`) before bytes go to it. Upload URLs
the remote hands out are used only on the remote's own origin and under `/v2/`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from dockyard.core import mediatypes
from dockyard.core.digest import Digest
from dockyard.core.errors import ErrorCode, RegistryError
from dockyard.core.manifest import parse_manifest
from dockyard.core.names import validate_name, validate_tag
from dockyard.remote.errors import RemoteError, RemoteInvalid, RemoteNotFound, RemoteUnavailable
from dockyard.remote.headers import upload_offset
from dockyard.remote.pull import PullOperations, as_digest, manifest_path, referrers_tag
from dockyard.remote.tokens import Scopes, repository_scope
from dockyard.remote.transport import same_origin

ChunksFactory = Callable[[int], AsyncIterable[bytes]]
"""`chunks_factory(offset)`: the blob's bytes from `offset` to its end, in chunks of any size."""

_OCTETS = "application/octet-stream"
_MAX_BACKOFF_SECONDS = 8.0
_LONGEST_WAIT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class UploadSession:
    """An upload the remote has started: pass it as `resume=` to continue it."""

    repository: str
    digest: Digest
    location: str
    """Path and query of the upload URL on the remote."""


SessionNoted = Callable[[UploadSession], Awaitable[None]]
"""Told of an upload's session when it starts and whenever the remote moves it (a new Location)."""


class UploadInterrupted(RemoteUnavailable):
    """An upload failed more often than its attempts allowed; `session` resumes it later."""

    def __init__(self, cause: RemoteUnavailable, session: UploadSession):
        super().__init__(
            cause.remote,
            f"upload of {session.digest} interrupted: {cause}",
            status=cause.status,
            codes=cause.codes,
            retry_after=cause.retry_after,
            dialled=cause.dialled,
        )
        self.session = session


@dataclass(slots=True)
class _Progress:
    session: UploadSession
    offset: int | None
    """Bytes the remote holds; None: ask it."""
    on_session: SessionNoted | None = None
    noted: UploadSession | None = None

    async def note(self) -> None:
        """Tell `on_session` of a session it has not been told of, before more bytes go to it."""
        if self.on_session is not None and self.session != self.noted:
            await self.on_session(self.session)
            self.noted = self.session


class _OutOfStep(Exception):
    """The remote holds another amount than we counted (416, or a Range that disagrees)."""


def push_scopes(repository: str) -> Scopes:
    return frozenset({repository_scope(repository, "pull", "push")})


async def _exactly(chunks: AsyncIterable[bytes], length: int) -> AsyncIterator[bytes]:
    """The first `length` bytes of `chunks`, read no further (a source metered or throttled per
    chunk read counts only what is sent); fewer is the caller's mistake."""
    remaining = length
    if remaining > 0:
        async for chunk in chunks:
            piece = chunk if len(chunk) <= remaining else chunk[:remaining]
            remaining -= len(piece)
            yield piece
            if remaining <= 0:
                break
    if remaining:
        raise ValueError(f"chunks_factory ended {remaining} bytes short")


class PushOperations(PullOperations):
    """The pull side and the push side: what replication needs."""

    async def mount_blob(self, repository: str, digest: Digest | str, from_repository: str) -> bool:
        """Ask the remote to link a blob it holds in `from_repository`; False when it would not (the
        upload session it opened instead is cancelled)."""
        blob = as_digest(digest)
        path = f"/v2/{validate_name(repository)}/blobs/uploads/?mount={blob}&from={validate_name(from_repository)}"
        scopes = push_scopes(repository) | {repository_scope(from_repository, "pull")}
        async with self._transport.exchange("POST", path, scopes=scopes, expect=(201, 202)) as response:
            mounted = response.status == 201
            location = None if mounted else self._location(response, path)
        if location is not None:
            await self._cancel(repository, location)
        return mounted

    async def _cancel(self, repository: str, location: str) -> None:
        try:
            async with self._transport.exchange(
                "DELETE", location, scopes=push_scopes(repository), expect=(200, 202, 204)
            ):
                pass
        except RemoteError:
            pass  # the remote purges abandoned sessions by itself

    async def upload_blob(
        self,
        repository: str,
        digest: Digest | str,
        size: int,
        chunks_factory: ChunksFactory,
        chunk_size: int | None = None,
        *,
        resume: UploadSession | None = None,
        attempts: int = 3,
        on_session: SessionNoted | None = None,
    ) -> None:
        """Upload a blob: one PUT with the whole body (`chunk_size` None), or PATCHes of `chunk_size`
        bytes and an empty PUT. Up to `attempts` failures are resumed from what the remote holds.
        `on_session` hears of every session the bytes go to, before they do (not of `resume`)."""
        blob = as_digest(digest)
        if size < 0 or (chunk_size is not None and chunk_size < 1):
            raise ValueError("size must not be negative and chunk_size must be positive")
        if resume is not None and (resume.repository != repository or resume.digest != blob):
            raise ValueError("the session to resume belongs to another repository or blob")
        session = resume or await self._start_upload(validate_name(repository), blob)
        progress = _Progress(session, None if resume else 0, on_session, resume)
        failures = 0
        while True:
            try:
                if progress.offset is None:
                    if await self.head_blob(session.repository, blob) == size:
                        return  # the last attempt's PUT went through after all
                    progress.session, progress.offset = await self._resume_point(progress.session)
                await progress.note()
                await self._send(progress, size, chunks_factory, chunk_size)
                return
            except RemoteUnavailable as error:
                failures += 1
                if failures > attempts or (error.retry_after or 0) > _LONGEST_WAIT_SECONDS:
                    raise UploadInterrupted(error, progress.session) from error
                await asyncio.sleep(max(error.retry_after or 0, min(0.5 * 2 ** (failures - 1), _MAX_BACKOFF_SECONDS)))
            except _OutOfStep:
                failures += 1
                if failures > attempts:
                    raise RemoteInvalid(self._transport.remote, f"upload of {blob} kept falling out of step") from None
            progress.offset = None

    async def _start_upload(self, repository: str, digest: Digest) -> UploadSession:
        path = f"/v2/{repository}/blobs/uploads/"
        async with self._transport.exchange("POST", path, scopes=push_scopes(repository), expect=(202,)) as response:
            return UploadSession(repository, digest, self._location(response, path))

    async def _resume_point(self, session: UploadSession) -> tuple[UploadSession, int]:
        """Where to continue: what the remote holds, or a new session from 0 if it lost this one."""
        try:
            async with self._transport.exchange(
                "GET", session.location, scopes=push_scopes(session.repository), expect=(200, 204)
            ) as response:
                offset = upload_offset(response.headers.get("Range"))
                location = self._location(response, session.location, session.location)
        except (RemoteNotFound, RemoteInvalid):
            offset = None
        if offset is None:
            return await self._start_upload(session.repository, session.digest), 0
        return UploadSession(session.repository, session.digest, location), offset

    async def _send(
        self, progress: _Progress, size: int, chunks_factory: ChunksFactory, chunk_size: int | None
    ) -> None:
        assert progress.offset is not None
        if progress.offset > size:  # the remote holds more than the blob: start over
            progress.session = await self._start_upload(progress.session.repository, progress.session.digest)
            progress.offset = 0
            await progress.note()
        while chunk_size is not None and progress.offset < size:
            await self._patch(progress, min(chunk_size, size - progress.offset), chunks_factory)
            await progress.note()
        offset, session = progress.offset, progress.session
        last = size - offset
        path = session.location + ("&" if "?" in session.location else "?") + f"digest={session.digest}"

        def body() -> AsyncIterable[bytes]:
            return _exactly(chunks_factory(offset), last)

        async with self._transport.exchange(
            "PUT",
            path,
            scopes=push_scopes(session.repository),
            expect=(201,),
            headers={"Content-Type": _OCTETS, "Content-Length": str(last)},
            body=body if last else b"",
        ) as response:
            announced = response.headers.get("Docker-Content-Digest")
        if announced is not None and announced.strip() != str(session.digest):
            raise RemoteInvalid(self._transport.remote, f"PUT {session.location}: stored as {announced[:100]!r}")

    async def _patch(self, progress: _Progress, length: int, chunks_factory: ChunksFactory) -> None:
        session, offset = progress.session, progress.offset
        assert offset is not None
        headers = {
            "Content-Type": _OCTETS,
            "Content-Length": str(length),
            "Content-Range": f"{offset}-{offset + length - 1}",
        }

        def body() -> AsyncIterable[bytes]:
            return _exactly(chunks_factory(offset), length)

        scopes = push_scopes(session.repository)
        try:
            async with self._transport.exchange(
                "PATCH", session.location, scopes=scopes, expect=(202,), headers=headers, body=body
            ) as response:
                location = self._location(response, session.location, session.location)
                held = upload_offset(response.headers.get("Range"))
        except RemoteInvalid as error:
            if error.status == 416:
                raise _OutOfStep from None
            raise
        progress.session = UploadSession(session.repository, session.digest, location)
        # `0-0` also stands for one byte held (headers.upload_offset reads it as none)
        if held is not None and held != offset + length and (held, offset + length) != (0, 1):
            raise _OutOfStep
        progress.offset = offset + length

    def _location(self, response: aiohttp.ClientResponse, path: str, default: str | None = None) -> str:
        """Path and query of the upload URL in `Location`, if it is on the remote under /v2/."""
        header = response.headers.get("Location")
        if not header:
            if default is None:
                raise RemoteInvalid(self._transport.remote, f"{path}: no Location for the upload")
            return default
        url = urljoin(self._transport.remote + path, header)
        parts = urlsplit(url)
        segments = parts.path.split("/")
        if not same_origin(url, self._transport.remote) or segments[1:2] != ["v2"] or {".", ".."} & set(segments):
            raise RemoteInvalid(self._transport.remote, f"{path}: upload Location outside the remote's /v2/")
        return parts.path + (f"?{parts.query}" if parts.query else "")

    async def put_manifest(self, repository: str, reference: str | Digest, media_type: str, body: bytes) -> Digest:
        """Store a manifest byte for byte under a tag or its digest; returns its digest. A manifest with
        a subject is added to the subject's referrers tag where the remote has no referrers API."""
        path, parsed = manifest_path(repository, reference)
        digest = Digest.of(body, parsed.algorithm if isinstance(parsed, Digest) else "sha256")
        if isinstance(parsed, Digest) and digest != parsed:
            raise RegistryError(ErrorCode.DIGEST_INVALID, f"the manifest's digest is {digest}, not {parsed}")
        headers = {"Content-Type": media_type}
        async with self._transport.exchange(
            "PUT", path, scopes=push_scopes(repository), expect=(201,), headers=headers, body=body
        ) as response:
            announced = response.headers.get("Docker-Content-Digest")
            subject_tracked = "OCI-Subject" in response.headers
        if announced is not None and announced.strip() != str(digest):
            raise RemoteInvalid(self._transport.remote, f"PUT {path}: stored as {announced[:100]!r}")
        referrer = _referrer_descriptor(body, media_type, digest)
        if referrer is not None and not subject_tracked:
            await self._add_to_referrers_tag(repository, referrer)
        return digest

    async def _add_to_referrers_tag(self, repository: str, referrer: tuple[Digest, dict[str, Any]]) -> None:
        """The spec's fallback for registries without the referrers API (last writer wins if two clients
        update the same subject's tag at once, as with every client that follows it)."""
        subject, descriptor = referrer
        tag = referrers_tag(subject)
        try:
            index = json.loads((await self.get_manifest(repository, tag, (mediatypes.OCI_INDEX,))).body)
        except RemoteNotFound:
            index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": []}
        manifests = index.get("manifests") if isinstance(index, dict) else None
        if not isinstance(manifests, list):
            raise RemoteInvalid(self._transport.remote, f"the referrers tag {tag} is not an image index")
        if any(isinstance(entry, dict) and entry.get("digest") == descriptor["digest"] for entry in manifests):
            return
        manifests.append(descriptor)
        await self.put_manifest(
            repository, tag, mediatypes.OCI_INDEX, json.dumps(index, separators=(",", ":")).encode()
        )

    async def delete_manifest(self, repository: str, digest: Digest | str) -> None:
        path = f"/v2/{validate_name(repository)}/manifests/{as_digest(digest)}"
        scopes = frozenset({repository_scope(repository, "delete")})
        async with self._transport.exchange("DELETE", path, scopes=scopes, expect=(200, 202, 204)):
            pass

    async def delete_tag(self, repository: str, tag: str) -> bool:
        """Remove a tag, leaving its manifest; False where the remote does not support that (405,
        UNSUPPORTED, or DIGEST_INVALID as Distribution 2.8 answers a tag where it wants a digest)."""
        path = f"/v2/{validate_name(repository)}/manifests/{validate_tag(tag)}"
        scopes = frozenset({repository_scope(repository, "delete")})
        try:
            async with self._transport.exchange("DELETE", path, scopes=scopes, expect=(200, 202, 204)):
                return True
        except RemoteInvalid as error:
            if error.status == 405 or {"UNSUPPORTED", "DIGEST_INVALID"} & set(error.codes):
                return False
            raise


def _referrer_descriptor(body: bytes, media_type: str, digest: Digest) -> tuple[Digest, dict[str, Any]] | None:
    """(subject, descriptor of this manifest for the subject's referrers index) if it has a subject."""
    try:
        manifest = parse_manifest(body, media_type)
    except RegistryError:
        return None
    if manifest.subject is None:
        return None
    descriptor: dict[str, Any] = {"mediaType": media_type, "digest": str(digest), "size": len(body)}
    if manifest.artifact_type:
        descriptor["artifactType"] = manifest.artifact_type
    if manifest.annotations:
        descriptor["annotations"] = manifest.annotations
    return manifest.subject.digest, descriptor

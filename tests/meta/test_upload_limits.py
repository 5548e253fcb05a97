"""Concurrent upload sessions per repository and per user: counted in the metadata store, so the
limits hold across instances; one more session gets 429 TOOMANYREQUESTS with the spec's error body,
and finishing, cancelling or mounting frees or takes no room as the docs say.

Two instances share one backend for the whole module, in Basic mode; each test pushes as a user of
its own (the per-user limit counts all of a user's sessions) into repositories of its own."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from tests.auth.support import auth_config, basic
from tests.http.ocitest import RegistryClient, assert_error, digest_of
from tests.support.backends import backend_env
from tests.support.server import DockyardServer
from tests.system.test_concurrency import run_together

from dockyard.meta.postgres import PostgresMetadataStore
from dockyard.meta.uploads import SessionLimits, TooManySessions

PER_REPOSITORY = 3
PER_USER = 6


@pytest.fixture(scope="module", params=["sqlite-fs", "pg-fs"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The URLs of two instances on one backend (on PostgreSQL, their sessions meet only in the database)."""
    directory = tmp_path_factory.mktemp(f"upload-limits-{request.param}")
    env = {
        **backend_env(request, request.param),
        "DOCKYARD_CONFIG": str(auth_config(directory, token_mode=False)),
        "DOCKYARD_LIMITS__UPLOAD_SESSIONS_PER_REPOSITORY": str(PER_REPOSITORY),
        "DOCKYARD_LIMITS__UPLOAD_SESSIONS_PER_USER": str(PER_USER),
    }
    servers = [DockyardServer(directory / "data", env=env) for _ in range(2)]
    try:
        yield [server.start().url for server in servers]
    finally:
        for server in servers:
            server.kill()


def _clients(urls: list[str], user: str) -> list[RegistryClient]:
    clients = [RegistryClient(url, timeout=120) for url in urls]
    for client in clients:
        client.http.headers.update(basic(user))
    return clients


def _refused(response: httpx.Response, limit: int) -> None:
    assert_error(response, 429, "TOOMANYREQUESTS")
    assert response.json()["errors"][0]["detail"] == {"limit": limit}


def test_sessions_per_repository_count_on_every_instance(pair: list[str]) -> None:
    clients = _clients(pair, "admin")
    turn = itertools.cycle(clients)
    sessions = [next(turn).open_session("limits/full") for _ in range(PER_REPOSITORY)]
    monolithic = {"digest": digest_of(b"x")}
    for client in clients:
        _refused(client.start_upload("limits/full"), PER_REPOSITORY)
        # A monolithic upload holds a session while it streams: refused alike.
        _refused(client.http.post("/v2/limits/full/blobs/uploads/", params=monolithic, content=b"x"), PER_REPOSITORY)
        assert client.open_session("limits/elsewhere")  # another repository has room of its own
    assert clients[0].get_blob("limits/full", digest_of(b"x")).status_code == 404
    # A mount takes no session: it links at once.
    layer = b"a layer another repository holds"
    clients[0].push_blob("limits/source", layer)
    mounted = clients[1].start_upload("limits/full", mount=digest_of(layer), **{"from": "limits/source"})
    assert mounted.status_code == 201, mounted.text
    # Cancelling one and completing another make room for two.
    assert clients[1].delete(sessions[0]).status_code == 204
    assert clients[0].finish(sessions[1], digest_of(b"")).status_code == 201
    assert clients[1].open_session("limits/full")
    assert clients[0].open_session("limits/full")
    _refused(clients[1].start_upload("limits/full"), PER_REPOSITORY)


def test_racing_sessions_never_pass_the_limit(pair: list[str]) -> None:
    clients = _clients(pair, "tagger")
    answers = run_together(4 * PER_REPOSITORY, lambda number: clients[number % 2].start_upload("team/race"))
    statuses = sorted(response.status_code for response in answers)
    assert statuses == [202] * PER_REPOSITORY + [429] * (3 * PER_REPOSITORY), [r.text for r in answers]


def test_sessions_per_user_count_over_repositories(pair: list[str]) -> None:
    writer = _clients(pair, "writer")
    for number in range(PER_USER):  # two repositories, each filled to its own limit, on both instances
        assert writer[number % 2].open_session(f"team/user-limit-{number % 2}")
    for client in writer:
        _refused(client.start_upload("team/user-limit-2"), PER_USER)
    assert _clients(pair, "admin")[0].open_session("team/user-limit-2")  # another user's room is theirs


def test_sessions_opened_at_once_on_two_postgres_stores_never_pass_the_limit(
    postgres_database: Callable[[], dict[str, str]],
) -> None:
    """At the store itself, where nothing but the database orders the writers: the count and the
    insert of a session must be one serializable write, or sessions opened in the same instant all
    see room."""
    url = postgres_database()["DOCKYARD_DATABASE__URL"]
    limits = SessionLimits(per_repository=PER_REPOSITORY)

    async def race() -> list[bool]:
        stores = [PostgresMetadataStore(url, pool_size=20) for _ in range(2)]
        for store in stores:
            await store.start()

        async def open_one(number: int) -> bool:
            try:
                await stores[number % 2].create_upload(str(uuid.uuid4()), "race/store", None, limits)
            except TooManySessions:
                return False
            return True

        try:
            return await asyncio.gather(*(open_one(number) for number in range(40)))
        finally:
            for store in stores:
                await store.close()

    assert sum(asyncio.run(race())) == PER_REPOSITORY

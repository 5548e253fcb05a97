"""An API fuzz of dockyard's /v2/ API, drawn by schemathesis from its OpenAPI description
(openapi.yaml beside this file), against real servers: authentication off, Basic mode on PostgreSQL,
token mode. Whatever a case sends, the answer is no 5xx, every refusal carries the spec's error body,
and the server logs no traceback.

DOCKYARD_FUZZ_API_EXAMPLES sets the cases per operation and server (default 40, about a minute in
all); in CI the same cases are drawn every run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from tests.fuzz import api, targets
from tests.fuzz.strategies import IN_CI

_EXAMPLES = int(os.environ.get("DOCKYARD_FUZZ_API_EXAMPLES", "40"))

schema = schemathesis.openapi.from_path(Path(__file__).with_name("openapi.yaml"))
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
api.install(schema)


@pytest.fixture(scope="session")
def open_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[targets.Target]:
    yield from targets.open_target(tmp_path_factory.mktemp("fuzz-open"))


@pytest.fixture(scope="session")
def basic_target(
    tmp_path_factory: pytest.TempPathFactory, postgres_database: targets.DatabaseFactory
) -> Iterator[targets.Target]:
    yield from targets.basic_target(tmp_path_factory.mktemp("fuzz-basic"), postgres_database())


@pytest.fixture(scope="session")
def token_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[targets.Target]:
    yield from targets.token_target(tmp_path_factory.mktemp("fuzz-token"))


@pytest.fixture(params=["open", "basic", "token"])
def target(request: pytest.FixtureRequest) -> targets.Target:
    chosen: targets.Target = request.getfixturevalue(f"{request.param}_target")
    chosen.seed()
    chosen.new_log()  # what seeding logged is not the fuzz's
    return chosen


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


@schema.parametrize()
@settings(
    max_examples=_EXAMPLES,
    deadline=None,
    derandomize=IN_CI,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
@pytest.mark.timeout(900)
def test_no_5xx_no_traceback(case: schemathesis.Case, target: targets.Target, session: requests.Session) -> None:
    authorization = case.headers.pop("Authorization", None) if case.headers else None
    if authorization in (api.VALID, api.WRONG):
        authorization = target.credentials.get("valid" if authorization == api.VALID else "wrong")
    if authorization is not None:
        case.headers["Authorization"] = authorization
    response = case.call(base_url=target.url, session=session, timeout=30, allow_redirects=False)
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}\n{case.as_curl_command()}"
    content_type = response.headers.get("content-type", [None])[0]
    targets.check_wire_error(case.method.upper(), response.status_code, content_type, response.content)
    logged = target.new_log()
    assert "Traceback" not in logged, logged[-3000:]

"""The version check, unknown routes, the error body and metrics."""

from __future__ import annotations

import httpx
from tests.http.ocitest import RegistryClient, assert_client_error, assert_error, error_codes
from tests.support.server import DockyardServer


def test_version_check_answers_200_with_api_version_header(client: RegistryClient) -> None:
    response = client.get("/v2/")
    assert response.status_code == 200
    assert response.headers["docker-distribution-api-version"] == "registry/2.0"


def test_version_check_without_trailing_slash_is_not_a_server_error(client: RegistryClient) -> None:
    response = client.get("/v2")
    assert response.status_code in (200, 301, 307, 308, 404)


def test_unknown_route_is_a_clean_404(client: RegistryClient) -> None:
    response = client.get("/v2/some/repo/not-a-resource/x")
    assert response.status_code == 404
    assert "traceback" not in response.text.lower()


def test_paths_outside_v2_are_not_served(client: RegistryClient) -> None:
    response = client.get("/etc/passwd")
    assert response.status_code == 404
    assert "root:" not in response.text


def test_error_body_has_the_spec_shape(client: RegistryClient, repo: str) -> None:
    response = client.get_manifest(repo, "no-such-tag")
    assert_error(response, 404, "MANIFEST_UNKNOWN")
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["errors"][0]
    assert set(error) <= {"code", "message", "detail"}
    assert error["message"]


def test_method_not_allowed_on_a_known_route_is_unsupported(client: RegistryClient, repo: str) -> None:
    response = client.request("POST", f"/v2/{repo}/manifests/latest", content=b"{}")
    assert_error(response, 405, "UNSUPPORTED")


def test_every_error_code_reported_is_a_spec_code(client: RegistryClient, repo: str) -> None:
    responses = [
        client.get_manifest(repo, "nope"),
        client.get(f"/v2/{repo}/blobs/sha256:{'0' * 64}"),
        client.tags(repo),
        client.put_manifest(repo, "x", b"not json"),
    ]
    for response in responses:
        assert_client_error(response)
        assert error_codes(response)


def test_metrics_are_exposed_in_prometheus_text_format(server: DockyardServer) -> None:
    httpx.get(server.url + "/v2/", timeout=10)
    response = httpx.get(server.url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert any(line.startswith("# TYPE ") for line in lines)
    samples = [line for line in lines if line and not line.startswith("#")]
    assert samples, "no metric samples"
    for sample in samples:
        float(sample.rsplit(" ", 1)[-1])

"""`dockyard config check` on good and bad files, unknown environment variables, the schema,
and `--version`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.ops.conftest import StartServer
from tests.test_cli import dockyard

from dockyard.config.check import check, unknown_environment


def config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "dockyard.yaml"
    path.write_text(text)
    return str(path)


def test_a_good_file_passes(tmp_path: Path) -> None:
    good = config_file(tmp_path, f"listen: 127.0.0.1:5001\nworkers: 2\ndata_dir: {tmp_path}/data\nlog_format: json\n")
    result = dockyard("config", "check", good)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_a_good_file_connects(tmp_path: Path) -> None:
    good = config_file(tmp_path, f"data_dir: {tmp_path}/data\n")
    result = dockyard("config", "check", good, "--connect")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("limts:\n  page_max_entries: 5\n", "limts: unknown key in the file; did you mean limits?"),
        ("limits:\n  page_max_entrys: 5\n", "limits.page_max_entrys: unknown key in the file; did you mean "),
        ("workers: many\n", "workers: Input should be a valid integer"),
        ("limits:\n  manifest_max_bytes: 10\n", "limits.manifest_max_bytes: Input should be greater than or equal"),
        ("log_format: xml\n", "log_format: Input should be 'text' or 'json'"),
        ("tls_cert: /nonexistent/cert.pem\n", "tls_cert: /nonexistent/cert.pem does not exist"),
        ("access_log_file: /nonexistent/dir/access.log\n", "access_log_file: /nonexistent/dir does not exist"),
        ("listen: [\n", "(file): not valid YAML"),
        ("- a list\n", "(file): the top level is not a mapping"),
        (
            "replication:\n  targets: [{name: up, url: 'https://r.example'}]\n  rules:\n"
            "  - {name: mirror, direction: pull, target: up, repositories: ['team/**']}\n"
            "  - {name: ship, direction: push, trigger: event, target: up, repositories: ['team/**']}\n",
            "replication: Value error, rules 'mirror' and 'ship' form a loop",
        ),
        (
            "notifications:\n  endpoints: [{name: 'replication:ship', url: 'https://hooks.example/'}]\n"
            "replication:\n  targets: [{name: up, url: 'https://r.example'}]\n"
            "  rules: [{name: ship, direction: push, target: up, repositories: ['team/**']}]\n",
            "endpoint 'replication:ship' takes the outbox queue of replication rule 'ship'",
        ),
    ],
)
def test_a_bad_file_is_explained(tmp_path: Path, text: str, expected: str) -> None:
    result = dockyard("config", "check", config_file(tmp_path, text))
    assert result.returncode == 1
    assert expected in result.stderr
    assert "valid" not in result.stdout


def test_a_missing_file_fails(tmp_path: Path) -> None:
    result = dockyard("config", "check", str(tmp_path / "absent.yaml"))
    assert result.returncode == 1
    assert "absent.yaml does not exist" in result.stderr


def test_unknown_environment_variables_are_errors_in_check() -> None:
    result = dockyard("config", "check", env={"DOCKYARD_LIMITS__PAGE_MAX_ENTRYS": "5", "DOCKYARD_WORKRES": "2"})
    assert result.returncode == 1
    assert "limits.page_max_entrys: unknown key (DOCKYARD_LIMITS__PAGE_MAX_ENTRYS in the environment)" in result.stderr
    assert "workres: unknown key (DOCKYARD_WORKRES in the environment); did you mean workers?" in result.stderr


def test_unknown_environment_variables_are_warned_at_start_up(start_server: StartServer) -> None:
    server = start_server(DOCKYARD_DATABSE__URL="postgresql://typo")
    assert "warning: unknown setting DOCKYARD_DATABSE__URL in the environment" in server.log()


def test_the_schema_is_generated_from_the_settings() -> None:
    result = dockyard("config", "schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert {"listen", "log_format", "access_log_file", "read_only", "health"} <= set(schema["properties"])


def test_version_names_the_runtime() -> None:
    result = dockyard("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("dockyard ")
    assert "granian " in result.stdout
    assert "Python " in result.stdout


S3_ENVIRONMENT = {
    "DOCKYARD_STORAGE__S3__BUCKET": "dockyard-blobs",
    "DOCKYARD_STORAGE__S3__ENDPOINT": "http://127.0.0.1:7480",
    "DOCKYARD_STORAGE__S3__ACCESS_KEY": "access",
    "DOCKYARD_STORAGE__S3__SECRET_KEY": "secret",
}


def test_s3_settings_from_the_environment_are_known(monkeypatch: pytest.MonkeyPatch) -> None:
    assert unknown_environment(S3_ENVIRONMENT) == []  # what serve warns about
    for name, value in S3_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    settings, problems = check(None)
    assert problems == []
    assert settings is not None
    assert settings.storage.s3 is not None
    assert settings.storage.s3.bucket == "dockyard-blobs"


SECRET = "hunter2-never-printed"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        (f"auth:\n  pasword: {SECRET}\n", {}, "auth.pasword: unknown key in the file; did you mean auth.htpasswd?"),
        (f"database:\n  url: mysql://root:{SECRET}@db/x\n", {}, "database.url: Value error, database.url must be a"),
        ("", {"DOCKYARD_DATABASE__POOL_SIZE": SECRET}, "database.pool_size: Input should be a valid integer"),
        (
            "",
            {"DOCKYARD_AUTH__PASSWORD": SECRET},
            "auth.password: unknown key (DOCKYARD_AUTH__PASSWORD in the environment)",
        ),
        (f"storage:\n  s3:\n    secret_key: {SECRET}\n", {}, "storage.s3.bucket: Field required"),
        (
            f"auth:\n  rules:\n    - repositories: [x]\n      actions: [pull]\n      password: {SECRET}\n",
            {},
            "auth.rules.0.password: unknown key",
        ),
        (f"listen: [{SECRET}\n", {}, "(file): not valid YAML at line 2, column 1"),
    ],
)
def test_a_refused_configuration_names_the_key_and_never_a_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DOCKYARD_DATA_DIR", str(tmp_path))
    settings, problems = check(Path(config_file(tmp_path, text)))
    assert settings is None
    report = "\n".join(map(str, problems))
    assert expected in report
    assert SECRET not in report
    assert "pydantic" not in report


def test_serve_refuses_a_configuration_as_config_check_explains_it(tmp_path: Path) -> None:
    path = config_file(tmp_path, f"auth:\n  pasword: {SECRET}\ndatabase:\n  url: mysql://root:{SECRET}@db/x\n")
    result = dockyard("serve", "--config", path, env={"DOCKYARD_WORKERS": SECRET})
    assert result.returncode != 0
    assert "error: auth.pasword: unknown key in the file; did you mean auth.htpasswd?" in result.stderr
    assert "error: database.url: Value error, database.url must be a postgresql:// URL" in result.stderr
    assert "error: workers: Input should be a valid integer" in result.stderr
    assert "dockyard: invalid configuration: 3 problem(s)" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "pydantic" not in result.stderr
    assert "Traceback" not in result.stderr

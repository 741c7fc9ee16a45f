"""The compose file: valid for a real compose implementation, in step with the env templates."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from soberharness.config.composecheck import (
    SEED_SERVICES,
    check_compose_against_templates,
    check_compose_structure,
    compose_command,
    compose_variables,
    load_compose,
)
from soberharness.config.envcheck import COMPOSE_FILE, REQUIRED_KEYS, TEMPLATES
from soberharness.config.envfile import read_env_file


def test_compose_file_agrees_with_templates_and_validator() -> None:
    assert check_compose_against_templates() == []


def test_every_compose_variable_is_in_both_templates() -> None:
    used = set(compose_variables())
    assert used, "the compose file interpolates nothing?"
    for label, path in TEMPLATES.items():
        missing = used - read_env_file(path).keys()
        assert not missing, f"{label} template lacks {sorted(missing)}"
    assert used <= REQUIRED_KEYS


def test_seed_services_present_with_pinned_images_and_loopback_ports() -> None:
    services = load_compose()["services"]
    assert services.keys() >= SEED_SERVICES
    for name, service in services.items():
        assert not str(service["image"]).endswith(":latest"), name
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_variable_missing_from_a_template_is_reported(tmp_path: Path) -> None:
    template = tmp_path / "partial.env"
    lines = TEMPLATES["local"].read_text().splitlines()
    template.write_text("\n".join(line for line in lines if not line.startswith("SITE_URL=")))
    problems = check_compose_against_templates(templates={"partial": template})
    assert "${SITE_URL}: used by the compose file, not defined in the partial template" in problems


def test_structure_checks_catch_defects() -> None:
    compose = load_compose()
    broken = yaml.safe_load(yaml.safe_dump(compose))
    broken["services"]["gateway"]["ports"] = ["8000:8000"]
    del broken["services"]["auth"]["healthcheck"]
    broken["services"]["db"]["depends_on"] = {
        "migrate": {"condition": "service_completed_successfully"}
    }
    broken["services"]["redis"]["image"] = "redis"
    del broken["services"]["imgproxy"]
    del broken["services"]["migrate"]["depends_on"]["storage"]
    problems = check_compose_structure(broken)
    assert "service gateway: port '8000:8000' is not bound to 127.0.0.1" in problems
    assert "service gateway: waits for auth to be healthy, which has no health check" in problems
    assert "service redis: image 'redis' has no pinned tag" in problems
    assert "service imgproxy: missing (seed 1.1.1)" in problems
    assert any(p.startswith("service migrate: must wait for storage to be healthy")
               for p in problems)
    assert any(p.startswith("depends_on cycle: ") and "migrate" in p for p in problems)


@pytest.fixture(scope="module")
def docker_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose (compose v1) not installed: run scripts/setup-ci-extras.sh")
    return exe


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_docker_compose_validates_the_file(docker_compose: str, template: str) -> None:
    command = compose_command(COMPOSE_FILE, TEMPLATES[template])
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    # Compose only warns about an undefined variable; here that is an error too.
    assert result.stderr.strip() == ""


def test_docker_compose_rejects_a_broken_file(docker_compose: str, tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    healthcheck:", "    healthchek:", 1))
    command = compose_command(broken, TEMPLATES["local"])
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "healthchek" in result.stderr

"""One module per service (soberharness.services): every service a suite can ask a target for
has exactly one, its compose services are in the stack's compose file, and the targets read
their paths from it."""

from __future__ import annotations

from soberharness import services
from soberharness.config.composecheck import load_compose
from soberharness.targets import containers, remote
from soberharness.targets.base import Service


def test_every_service_has_one_module() -> None:
    names = [f.name for f in services.ALL]
    assert len(names) == len(set(names))
    assert set(names) == {s.value for s in Service}


def test_compose_services_are_in_the_compose_file() -> None:
    declared = set(load_compose()["services"])
    wanted = {name for f in services.ALL for name in f.compose}
    assert wanted <= declared, f"not in the compose file: {sorted(wanted - declared)}"


def test_targets_read_paths_from_the_service_modules() -> None:
    assert containers.GATEWAY_PATHS[Service.STORAGE] == services.storage.FACTS.gateway_path
    assert remote.HEALTH_PATHS[Service.AUTH] == services.auth.FACTS.health_path == "/health"
    assert containers.SERVICE_CONTAINERS[Service.IMAGE_TRANSFORMATION] == (
        "storage", "imgproxy", "gateway")

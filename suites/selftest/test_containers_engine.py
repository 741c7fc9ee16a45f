"""The containers target against a real Docker engine: start, wait, publish, discover, clean up.

Runs only where an engine answers and an image with python3 exists locally (no registry is
needed): set SOBERHARNESS_SELFTEST_IMAGE to it, and DOCKER_HOST if the engine is not at the
default socket. The stack's own images need a registry; this uses a small compose file with
the same shapes (a one-shot, a health-checked service with a bind mount and an alias).

Such an image without a registry (Debian):
    debootstrap --variant=minbase --include=python3 bookworm rootfs http://deb.debian.org/debian
    tar -C rootfs -c . | docker import - sober-selftest-base:1
"""

from __future__ import annotations

import os
from pathlib import Path

import docker
import httpx
import pytest

from soberharness.errors import TargetUnavailable
from soberharness.targets.base import Service
from soberharness.targets.containers import ContainersTarget, check_engine, engine_address

IMAGE = os.environ.get("SOBERHARNESS_SELFTEST_IMAGE", "")
LABEL = "org.sobertube.harness"

COMPOSE = """
services:
  seed:
    image: ${IMAGE}
    command: ["python3", "-c", "import sys; print('seeding'); sys.exit(int('${SEED_EXIT}'))"]
    networks: [backend]
  mail:
    image: ${IMAGE}
    restart: unless-stopped
    command: ["python3", "-m", "http.server", "8025", "--directory", "/srv"]
    environment:
      GREETING: ${GREETING}
    healthcheck:
      test: ["CMD", "python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8025/')"]
      interval: 1s
      timeout: 2s
      retries: 20
    depends_on:
      seed:
        condition: service_completed_successfully
    volumes:
      - ./served:/srv:ro
    networks:
      backend:
        aliases: [mail-alias.test]
networks:
  backend: {}
"""


@pytest.fixture(scope="module")
def engine() -> docker.DockerClient:
    try:
        check_engine()
    except TargetUnavailable as exc:
        pytest.skip(f"needs a Docker engine: {exc}")
    if not IMAGE:
        pytest.skip("needs a local image with python3 named by SOBERHARNESS_SELFTEST_IMAGE")
    client = docker.DockerClient(base_url=engine_address(), timeout=30)
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"needs the local image {IMAGE} (SOBERHARNESS_SELFTEST_IMAGE)")
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # no registry for ryuk
    return client


def stack_dir(tmp_path: Path) -> Path:
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "hello.txt").write_text("hello from the bind mount\n")
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    return tmp_path


def env(seed_exit: int) -> dict[str, str]:
    return {
        "IMAGE": IMAGE,
        "SEED_EXIT": str(seed_exit),
        "GREETING": "hi",
        "JWT_SECRET": "x" * 40,
        "ANON_KEY": "a",
        "SERVICE_ROLE_KEY": "s",
    }


def leftovers(client: docker.DockerClient, name: str) -> list[str]:
    return [c.name for c in client.containers.list(all=True, filters={"label": f"{LABEL}={name}"})]


def test_starts_waits_publishes_and_cleans_up(engine: docker.DockerClient, tmp_path: Path) -> None:
    folder = stack_dir(tmp_path)
    target = ContainersTarget(
        needs={Service.MAIL},
        name="engine-ok",
        env=env(0),
        compose_file=folder / "docker-compose.yml",
    )
    assert target.plan.names == ("seed", "mail")
    with target:
        url = target.url(Service.MAIL)
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/hello.txt", timeout=5).text == "hello from the bind mount\n"
        mail = engine.containers.list(filters={"label": f"{LABEL}=engine-ok", "status": "running"})
        assert len(mail) == 1
        mail[0].reload()
        bindings = mail[0].attrs["NetworkSettings"]["Ports"]["8025/tcp"]
        assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}
        assert mail[0].attrs["State"]["Health"]["Status"] == "healthy"
        networks = mail[0].attrs["NetworkSettings"]["Networks"]
        assert any("mail-alias.test" in (n.get("Aliases") or []) for n in networks.values())
        assert "GREETING=hi" in mail[0].attrs["Config"]["Env"]
    assert leftovers(engine, "engine-ok") == []
    assert not [
        n for n in engine.networks.list() if n.id in {v["NetworkID"] for v in networks.values()}
    ]


def test_failing_one_shot_is_one_line_and_leaves_nothing(
    engine: docker.DockerClient, tmp_path: Path
) -> None:
    folder = stack_dir(tmp_path)
    target = ContainersTarget(
        needs={Service.MAIL},
        name="engine-fail",
        env=env(3),
        compose_file=folder / "docker-compose.yml",
    )
    with pytest.raises(TargetUnavailable) as info:
        target.start()
    assert str(info.value) == "target 'engine-fail': service 'seed' exited 3: seeding"
    assert leftovers(engine, "engine-fail") == []

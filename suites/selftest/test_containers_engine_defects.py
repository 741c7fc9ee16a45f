"""Planted defects for the containers target on a real engine (ops/docker_engine.py, a private
dockerd; targets/container_start.py): each is reported as exactly its compose service, in one
line, and leaves no container behind. Also: an engine that cannot start is one line (a failure
in CI, a skip elsewhere), and neither stopping nor killing the harness leaves dockerd, its
containers or its folder behind (a killed engine's bridge goes when the next engine starts).

The defects' images are the base image (Debian from debootstrap, cached) and, for the database
without the stack's bootstrap, the stand-in PostgreSQL image (loaded from the cache the live
test filled) with one layer on top.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from soberharness.errors import TargetUnavailable
from soberharness.ops.docker_engine import DockerEngine, when_no_engine
from soberharness.ops.docker_images import (
    LOCAL_IMAGES,
    ImageBuilder,
    compose_images,
    plan_override,
)
from soberharness.ops.docker_rootfs import BASE_TAG
from soberharness.targets import proctree
from soberharness.targets.base import Service
from soberharness.targets.containers import ContainersTarget
from soberharness.targets.image_override import ImageOverride
from soberharness.testing.docker_engine_start import started_engine

pytestmark = pytest.mark.target_independent

REPO = Path(__file__).resolve().parents[2]
DB_IMAGE = "supabase/postgres:15.8.1.085"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    engine = started_engine()
    try:
        client = docker.DockerClient(base_url=engine.address, timeout=300)
        ImageBuilder(client, tmp_path_factory.mktemp("images")).base()
        client.close()
        yield engine
    finally:
        engine.stop()


def only_db(local: str) -> ImageOverride:
    """The compose file's PostgreSQL image mapped to `local`; every other service left out."""
    planned = plan_override({"supabase/postgres": local}, compose_images(), {})
    return ImageOverride(planned.images, planned.unavailable, source="planted.toml")


def left(engine: DockerEngine) -> list[str]:
    client = docker.DockerClient(base_url=engine.address, timeout=30)
    try:
        return [c.name for c in client.containers.list(all=True)]
    finally:
        client.close()


def start_error(target: ContainersTarget) -> str:
    with pytest.raises(TargetUnavailable) as info:
        target.start()
    return str(info.value)


def test_an_override_naming_a_missing_image_is_that_service(engine: DockerEngine) -> None:
    target = ContainersTarget(needs={Service.POSTGRES}, name="planted", engine=engine.address,
                              owned_engine=True,
                              override=only_db("sober-local/postgres:no-such-build"))
    assert target.plan.names == ("db", "migrate")
    assert start_error(target) == (
        "target 'planted': service 'db': image 'sober-local/postgres:no-such-build' (standing "
        f"for {DB_IMAGE} in the image override planted.toml) is not on the Docker engine, and "
        "it is never pulled")
    assert left(engine) == []


def test_a_database_image_without_postgres_is_that_service(engine: DockerEngine) -> None:
    target = ContainersTarget(needs={Service.POSTGRES}, name="planted", engine=engine.address,
                              owned_engine=True,
                              override=only_db(BASE_TAG))
    message = start_error(target)
    # The first thing the target asks of the database's image is its postgres user (who must
    # own the database's TLS key): an image without PostgreSQL has none.
    assert message == ("target 'planted': service 'db': no uid for user 'postgres' in image "
                       f"'{BASE_TAG}', who must own the database's TLS key: "
                       "id: 'postgres': no such user"), message
    assert left(engine) == []


def test_a_database_image_without_the_stacks_bootstrap_is_that_service(
        engine: DockerEngine, tmp_path: Path) -> None:
    """The stand-in PostgreSQL image (from the cache when an earlier run built it) with its
    copy of stack/bootstrap emptied: the compose file's init scripts then fail on roles the
    bootstrap creates, and the database never becomes ready."""
    client = docker.DockerClient(base_url=engine.address, timeout=900)
    try:
        builder = ImageBuilder(client, tmp_path)
        image = LOCAL_IMAGES[0]
        assert image.name == "postgres"
        image.context(tmp_path / "context")
        real = builder.ensure(image.name, tmp_path / "context", builder.base())
        dockerfile = f"FROM {real}\nRUN rm -f /sober-image/bootstrap/*.sql\n"
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag="planted/no-bootstrap:1",
                            rm=True, network_mode="host")
    finally:
        client.close()
    target = ContainersTarget(needs={Service.POSTGRES}, name="planted", engine=engine.address,
                              owned_engine=True,
                              override=only_db("planted/no-bootstrap:1"))
    assert start_error(target) == (
        "target 'planted': service 'db' exited before it was ready, with 1: sober-postgres: "
        "/docker-entrypoint-initdb.d/init-scripts/99-roles.sql failed")
    assert left(engine) == []


COMPOSE = """
services:
  mail:
    image: ${IMAGE}
    command: ["sleep", "600"]
    healthcheck:
      test: ["CMD", "sh", "-c", "${HEALTH}"]
      interval: ${INTERVAL}
      timeout: 2s
      retries: 2
"""


def health_target(tmp_path: Path, health: str, interval: str, timeout_s: float,
                  engine: DockerEngine) -> ContainersTarget:
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    env = {"IMAGE": BASE_TAG, "HEALTH": health, "INTERVAL": interval, "JWT_SECRET": "x" * 40,
           "ANON_KEY": "a", "SERVICE_ROLE_KEY": "s"}
    return ContainersTarget(needs={Service.MAIL}, name="planted", env=env,
                            compose_file=tmp_path / "docker-compose.yml",
                            startup_timeout_s=timeout_s, engine=engine.address, owned_engine=True,
                            override=ImageOverride())


def test_a_failing_health_check_is_that_service(engine: DockerEngine, tmp_path: Path) -> None:
    target = health_target(tmp_path, "echo no mailbox here; exit 1", "1s", 60, engine)
    assert start_error(target) == (
        "target 'planted': service 'mail': its health check failed: no mailbox here")
    assert left(engine) == []


def test_a_health_check_that_never_passes_is_that_service(engine: DockerEngine,
                                                          tmp_path: Path) -> None:
    target = health_target(tmp_path, "exit 1", "1h", 3, engine)  # its first check is in 1 h
    began = time.monotonic()
    assert start_error(target) == (
        "target 'planted': service 'mail': its health check did not pass within 3s "
        "(status running, health starting): no output")
    assert time.monotonic() - began < 30
    assert left(engine) == []


FAKE_DOCKERD = "#!/bin/sh\necho 'failed to start daemon: permission denied (planted)' >&2\nexit 1\n"


def fake_dockerd_path(tmp_path: Path) -> str:
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "dockerd").write_text(FAKE_DOCKERD)
    (folder / "dockerd").chmod(0o755)
    return f"{folder}:{os.environ['PATH']}"


@pytest.mark.skipif(os.geteuid() != 0, reason="the engine is started as root only")
def test_a_dockerd_that_cannot_start_is_one_line(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", fake_dockerd_path(tmp_path))
    engine = DockerEngine(parent=tmp_path)
    with pytest.raises(TargetUnavailable) as info:
        engine.start()
    assert str(info.value) == (
        "dockerd exited with code 1: failed to start daemon: permission denied (planted)")
    assert not list(tmp_path.glob("soberharness-*"))
    assert when_no_engine(str(info.value), {"CI": "true"}) == (
        "fail", f"CI needs a Docker engine and none could start: {info.value}")
    assert when_no_engine(str(info.value), {"CI": ""})[0] == "skip"


@pytest.mark.skipif(os.geteuid() != 0, reason="the engine is started as root only")
def test_in_ci_the_containers_suite_fails_when_no_engine_starts(tmp_path: Path) -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/ops/test_containers_live.py", "-q", "-rs",
         "-p", "no:cacheprovider", "--report-dir", str(tmp_path / "reports")],
        cwd=REPO, env={**os.environ, "CI": "true", "PATH": fake_dockerd_path(tmp_path)},
        capture_output=True, text=True, timeout=180)
    out = ran.stdout + ran.stderr
    assert ran.returncode == 1, out[-3000:]
    assert ("CI needs a Docker engine and none could start: dockerd exited with code 1: "
            "failed to start daemon: permission denied (planted)") in out, out[-3000:]
    assert "SKIPPED" not in out and "Traceback" not in out, out[-3000:]


def test_stop_ends_dockerd_and_its_folder(engine: DockerEngine) -> None:
    other = DockerEngine()
    other.start()
    pid, work = other.pid, other.work
    assert pid is not None and work is not None and proctree.is_running(pid)
    other.stop()
    assert not proctree.is_running(pid) and not work.exists()


KILLED_CHILD = textwrap.dedent("""
    import sys, time, docker
    from soberharness.ops.docker_engine import DockerEngine
    from soberharness.ops.docker_images import ImageBuilder
    engine = DockerEngine()
    engine.start()
    client = docker.DockerClient(base_url=engine.address, timeout=60)
    ImageBuilder(client, engine.work).base()
    network = client.networks.create("planted")
    client.containers.run(sys.argv[1], ["sleep", "987654"], detach=True, network="planted")
    print(engine.pid, engine.work, "br-" + network.id[:12], flush=True)
    time.sleep(600)
""")


def sleepers() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes() == b"sleep\x00987654\x00":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_killed_harness_leaves_no_engine_container_folder_or_bridge(engine: DockerEngine) -> None:
    child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, BASE_TAG], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        pid_text, work_text, bridge = child.stdout.readline().split()
        assert Path("/sys/class/net", bridge).exists()
        assert sleepers(), "the container's process runs"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (
                proctree.is_running(int(pid_text)) or sleepers() or Path(work_text).exists()):
            time.sleep(0.2)
        assert not proctree.is_running(int(pid_text)), "dockerd outlived the harness"
        assert sleepers() == [], "a container's process outlived the harness"
        assert not Path(work_text).exists(), "the engine's folder outlived the harness"
        # The bridge it made in this machine's network namespace stays until the next engine
        # starts, which removes it.
        assert Path("/sys/class/net", bridge).exists()
        after = DockerEngine()
        after.start()
        after.stop()
        assert not Path("/sys/class/net", bridge).exists(), "a killed engine's bridge stayed"
    finally:
        if child.poll() is None:
            child.kill()

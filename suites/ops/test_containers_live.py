"""The containers target on a real Docker engine (seed 1.1.1, 6.1.1; issue 24 item 6).

A private dockerd (Debian's docker.io, soberharness/ops/docker_engine.py) runs for this module;
the images registries here can give are built on it without a registry (Debian from debootstrap,
then the stack's PostgreSQL with its bootstrap, the stack's own gateway Dockerfile, Mailpit from
the Go module proxy: soberharness/ops/docker_images.py) or loaded from the cache, and an image
override file maps the compose file's image names to them. Then:
  - the stack the containers target starts from the compose file answers as the compose file
    says (the gateway's health and WAF on 127.0.0.1 only, Mailpit's API, the migrated database),
    and leaves no container behind;
  - `pytest --target containers suites/security` runs through the same target in its own
    process and passes, the services without an image here skipped by name. The Hypothesis state
    machine is deselected there: on containers it takes about two minutes (every step a round
    trip through docker-proxy), past this part's CI budget; it runs on the local target.
In CI (CI=true) an engine that cannot start fails the module with one line; elsewhere it skips.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import psycopg
import pytest

from soberharness.db import session as db_session
from soberharness.ops import waf
from soberharness.ops.docker_engine import DockerEngine
from soberharness.ops.docker_images import write_override
from soberharness.report.run_report import RunReport
from soberharness.targets.base import Service
from soberharness.targets.containers import ContainersTarget
from soberharness.targets.image_override import ENV_VAR, load_override
from soberharness.targets.lifecycle import preexec_as
from soberharness.targets.migrations import STACK_MIGRATIONS
from soberharness.testing.docker_engine_start import started_engine

pytestmark = pytest.mark.target_independent

REPO = Path(__file__).resolve().parents[2]
SECURITY_RUN_TIMEOUT_S = 900
LABEL = "org.sobertube.harness"


@dataclass
class LiveEngine:
    engine: DockerEngine
    override: Path
    client: docker.DockerClient
    seconds: dict[str, float]


@pytest.fixture(scope="module")
def live(run_report: RunReport) -> Iterator[LiveEngine]:
    began = time.monotonic()
    engine = started_engine()
    seconds = {"engine start": round(time.monotonic() - began, 1)}
    client = docker.DockerClient(base_url=engine.address, timeout=60)
    try:
        began = time.monotonic()
        assert engine.work is not None
        steps: list[str] = []
        override = write_override(engine.address, engine.work, lambda step: steps.append(
            f"{time.monotonic() - began:.1f}s {step}"))
        seconds["images (built or loaded)"] = round(time.monotonic() - began, 1)
        run_report.notes["containers target: image steps (seconds since the first)"] = steps
        yield LiveEngine(engine, override, client, seconds)
    finally:
        client.close()
        began = time.monotonic()
        engine.stop()
        seconds["engine stop"] = round(time.monotonic() - began, 1)
        run_report.notes["containers target on a real engine"] = seconds


def containers_left(client: docker.DockerClient) -> list[str]:
    return [c.name for c in client.containers.list(all=True)]


def test_override_maps_the_images_built_here_and_names_the_rest(live: LiveEngine) -> None:
    override = load_override(live.override)
    assert set(override.images) == {"supabase/postgres:15.8.1.085",
                                     "sobertube/gateway:1.22.1-crs3.3.4",
                                     "axllent/mailpit:v1.33.1"}
    for local in override.images.values():
        live.client.images.get(local)  # each is on the engine
    assert {"auth", "rest", "realtime", "storage", "imgproxy"} <= set(override.unavailable)
    assert not {"db", "migrate", "gateway", "mail"} & set(override.unavailable)


def test_the_compose_stack_starts_answers_and_goes(live: LiveEngine) -> None:
    target = ContainersTarget(name="containers-live", engine=live.engine.address, owned_engine=True,
                              override=load_override(live.override))
    assert set(target.plan.names) == {"db", "migrate", "gateway", "mail"}
    assert target.services == {Service.POSTGRES, Service.MAIL}
    assert "PostgREST" in target.missing_reason(Service.REST)
    began = time.monotonic()
    with target:
        live.seconds["stack start (db, migrate, gateway, mail)"] = round(
            time.monotonic() - began, 1)
        gateway = f"http://127.0.0.1:{target.host_port('gateway', 8000)}"
        assert httpx.get(f"{gateway}/gateway-health", timeout=10).text == "ok\n"
        # The WAF in the image, with the compose file's rules: every probe answered by the
        # gateway itself (none of the API services runs here: one passed on would end in 502),
        # SQL injection and XSS refused by ModSecurity (403; nginx itself routes a traversal
        # out of its location, 404), and a file the gateway serves itself passes.
        headers = {"apikey": target.keys.anon_key or "",
                   "Authorization": f"Bearer {target.keys.anon_key}"}
        statuses = {n: a.status for n, a in waf.send(gateway, waf.ATTACKS, headers).items()}
        assert set(statuses.values()) <= {403, 404}, statuses
        assert {n: s for n, s in statuses.items() if "sql" in n or "xss" in n} == {
            p.name: 403 for p in waf.ATTACKS if "sql" in p.name or "xss" in p.name}
        template = (REPO / "stack" / "auth" / "templates" / "confirmation.html").read_text()
        served = httpx.get(f"{gateway}/mail-templates/confirmation.html", timeout=10)
        assert (served.status_code, served.text) == (200, template)
        # (not /api/v1/info: Mailpit first asks GitHub for its latest release there, which
        # waits out the DNS timeout on this engine's networks, which have no route out)
        listed = httpx.get(f"{target.url(Service.MAIL)}/api/v1/messages", timeout=10)
        assert listed.status_code == 200 and listed.json()["total"] == 0
        with db_session.connect(target.admin_dsn(), connect_timeout=10) as conn:
            applied = conn.execute(
                "select count(*) from supabase_migrations.schema_migrations").fetchone()
            # The stack's TLS (seed 5.2.1): the harness verifies the run's own certificate
            # (verify-full), as every service does, and the session is encrypted.
            encrypted = conn.execute(
                "select ssl from pg_stat_ssl where pid = pg_backend_pid()").fetchone()
        assert applied == (len(list(STACK_MIGRATIONS.glob("*/up.sql"))),)
        assert "sslmode=verify-full" in target.admin_dsn() and encrypted == (True,)
        # ... and the stack's pg_hba.conf refuses a plain connection on the published port.
        plain = target.admin_dsn().split("?", 1)[0] + "?sslmode=disable"
        with pytest.raises(psycopg.OperationalError, match="no encryption"):
            db_session.connect(plain, connect_timeout=10).close()
        published = live.client.containers.list(filters={"label": f"{LABEL}=containers-live"})
        for container in published:
            for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values():
                assert {b["HostIp"] for b in bindings or []} <= {"127.0.0.1"}, container.name
    assert containers_left(live.client) == []


def test_security_suite_passes_on_containers(live: LiveEngine, tmp_path: Path) -> None:
    # Ryuk (an image from a registry) is not needed on the engine this module owns.
    env = {**os.environ, "DOCKER_HOST": live.engine.address, ENV_VAR: str(live.override),
           "TESTCONTAINERS_RYUK_DISABLED": "true"}
    began = time.monotonic()
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "--target", "containers", "suites/security",
         "--deselect", "suites/security/test_state_machine.py", "-q", "-rs",
         "-p", "no:cacheprovider", "--report-dir", str(tmp_path / "reports")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=SECURITY_RUN_TIMEOUT_S,
        preexec_fn=preexec_as(None, signal.SIGTERM))  # it ends its containers if we die
    live.seconds["pytest --target containers suites/security"] = round(
        time.monotonic() - began, 1)
    out = ran.stdout + ran.stderr
    assert ran.returncode == 0, out[-4000:]
    assert re.search(r"soberharness on containers: \d+ cells checked, 0 mismatches", out), out
    passed = re.search(r"(\d+) passed", out)
    assert passed and int(passed.group(1)) >= 50, out[-2000:]
    skips = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert skips and all("offers no 'rest' service (rest: PostgREST" in line
                         or "DatabaseProvisioning" in line for line in skips), skips
    assert containers_left(live.client) == []

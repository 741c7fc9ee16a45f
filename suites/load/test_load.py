"""Load on the target's real PostgREST and Realtime, through the locust files in `loadtests/`.

Locust runs as its own process (never inside pytest: gevent monkey-patching), headless, against
the target's own URLs only. Its thresholds decide pass/fail; its JSON summary is written to
reports/load/ and added to the run report. These tests flood the target, so they are
destructive (refused where the target did not opt in) and need the services they load
(skipped, naming the service, on targets without them, such as the local one).

Size with SOBER_LOAD_USERS (default 20), SOBER_LOAD_RUN_S (default 30) and
SOBER_LOAD_WORLD_USERS (default 50, the accounts seeded when the target offers SQL access).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from soberharness.config.env_values import env_int
from soberharness.db import session as db_session
from soberharness.db.claims import sign
from soberharness.db.seed import remove_world, write_world
from soberharness.report.run_report import RunReport
from soberharness.targets.base import Service, Target
from soberharness.workload import rest_load as rl
from soberharness.workload.locust_run import (
    ENV_ANON_KEY,
    ENV_JWT_SECRET,
    ENV_SERVICE_KEY,
    LOADTESTS,
    REPORTS,
    LocustResult,
    run_locust,
)

USERS = env_int("SOBER_LOAD_USERS", 20, minimum=1)
RUN_S = env_int("SOBER_LOAD_RUN_S", 30, minimum=1)
WORLD_USERS = env_int("SOBER_LOAD_WORLD_USERS", 50, minimum=1)


@pytest.fixture(scope="module")
def load_secrets(target: Target) -> dict[str, str]:
    keys = target.keys
    if not keys.jwt_secret:
        pytest.skip(f"target '{target.name}' gives no JWT secret (jwt_secret_env): load users "
                    "cannot be signed in")
    anon = keys.anon_key or sign({"role": "anon", "iss": "soberharness"}, keys.jwt_secret)
    secrets = {ENV_JWT_SECRET: keys.jwt_secret, ENV_ANON_KEY: anon}
    if keys.service_key:
        secrets[ENV_SERVICE_KEY] = keys.service_key
    return secrets


@pytest.fixture(scope="module")
def population(target: Target, load_secrets: dict[str, str],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A population file: a seeded world (removed afterwards) where the target offers SQL,
    else existing profiles read through REST with the service key."""
    path = tmp_path_factory.mktemp("load") / "population.json"
    if Service.POSTGRES not in target.services:
        if ENV_SERVICE_KEY not in load_secrets:
            pytest.skip(f"target '{target.name}' offers no 'postgres' service and no service "
                        "key to read existing profiles")
        rl.discover_population(target.url(Service.REST), load_secrets[ENV_ANON_KEY],
                               load_secrets[ENV_SERVICE_KEY]).save(path)
        yield path
        return
    world = rl.load_world(WORLD_USERS, uuid.uuid4().hex[:8])
    with db_session.connect(target.admin_dsn(), autocommit=True) as conn:
        write_world(conn, world)
        try:
            rl.population_from_world(world).save(path)
            yield path
        finally:
            remove_world(conn, world)


def _record(run_report: RunReport, name: str, result: LocustResult) -> None:
    if result.summary is not None:
        run_report.notes.setdefault("load", {})[name] = result.summary


def _verdict(result: LocustResult) -> str:
    if result.summary is None:
        return f"locust wrote no summary (exit {result.exit_code}): {result.output[-1500:]}"
    return f"thresholds broken: {result.summary['violations']}"


@pytest.mark.destructive
@pytest.mark.needs("rest")
def test_rest_load_meets_thresholds(target: Target, load_secrets: dict[str, str],
                                    population: Path, run_report: RunReport) -> None:
    result = run_locust(
        LOADTESTS / "rest.py", target.url(Service.REST), users=USERS,
        spawn_rate=max(1, USERS // 5), run_time_s=RUN_S, summary_out=REPORTS / "rest.json",
        secrets=load_secrets, extra=["--population", str(population)],
    )
    _record(run_report, "rest", result)
    assert result.summary is not None and result.exit_code == 0, _verdict(result)
    feed = result.endpoint(rl.ENDPOINT[rl.Action.FEED])
    assert feed is not None and feed["requests"] > 0


@pytest.mark.destructive
@pytest.mark.needs("realtime", "rest")
def test_realtime_fanout_meets_thresholds(target: Target, load_secrets: dict[str, str],
                                          population: Path, run_report: RunReport) -> None:
    result = run_locust(
        LOADTESTS / "realtime.py", target.url(Service.REST), users=USERS,
        spawn_rate=max(1, USERS // 5), run_time_s=RUN_S, summary_out=REPORTS / "realtime.json",
        secrets=load_secrets,
        extra=["--population", str(population), "--realtime-url", target.url(Service.REALTIME),
               "--writers", str(max(1, USERS // 20))],
    )
    _record(run_report, "realtime", result)
    assert result.summary is not None and result.exit_code == 0, _verdict(result)
    for name in ("phx_join", "fan-out from send"):
        row = result.endpoint(name)
        assert row is not None and row["requests"] > 0, name
    delivery = result.summary["delivery"]  # judged by suites/realtime's checker
    assert delivery["delivered"] == delivery["expected"] > 0, delivery["findings"]

"""The containers target's image override and the pieces of the private engine that need no
engine: the plan with services left out (and why), the override file read back or refused in
one line, image names, content keys, the base image's trimming, the engine's address pool and
the bridges a killed engine left."""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

import pytest

from soberharness.errors import HarnessError, TargetUnavailable
from soberharness.ops.docker_images import (
    NOT_BUILT,
    compose_images,
    context_key,
    plan_override,
    repository,
)
from soberharness.ops.docker_network import (
    bridges,
    free_pool,
    ledger,
    record_pool,
    recorded_pools,
    release_pool,
    routed_networks,
    stale_bridges,
)
from soberharness.ops.docker_rootfs import TRIM, cached, recipe_key, rootfs_tarball, run_step, trim
from soberharness.targets.base import Service
from soberharness.targets.containers import plan_stack
from soberharness.targets.image_override import (
    ENV_VAR,
    ImageOverride,
    load_override,
    override_from_environ,
)

BUILT = {"supabase/postgres": "sober-local/postgres:k1", "axllent/mailpit": "sober-local/mail:k2",
         "sobertube/gateway": "sober-local/gateway:k3"}


def test_the_override_maps_what_was_built_and_says_why_the_rest_is_not() -> None:
    override = plan_override(BUILT, compose_images(), {"axllent/mailpit": "planted reason"})
    assert override.images["supabase/postgres:15.8.1.085"] == "sober-local/postgres:k1"
    assert override.unavailable["auth"] == NOT_BUILT["supabase/gotrue"]
    assert "mail" not in override.unavailable  # built: the reason given is not used
    assert set(override.unavailable) == set(compose_images()) - {"db", "migrate", "gateway",
                                                                 "mail"}


def test_a_plan_leaves_out_the_services_without_an_image_and_says_why() -> None:
    override = plan_override(BUILT, compose_images(), {})
    plan = plan_stack(None, override=override)
    assert set(plan.names) == {"db", "migrate", "gateway", "mail"}
    assert plan.container("db").image == "sober-local/postgres:k1"
    assert plan.container("db").official == "supabase/postgres:15.8.1.085"
    assert plan.container("migrate").depends_on == ("db",)  # auth and storage left out
    assert plan.services == {Service.POSTGRES, Service.MAIL}
    assert plan.why_missing(Service.REST) == f"rest: {NOT_BUILT['postgrest/postgrest']}"
    assert plan.container("gateway").scratch == ("/var/log/nginx/requests",)
    only_db = plan_stack({Service.POSTGRES, Service.AUTH}, override=override)
    assert only_db.names == ("db", "migrate") and only_db.services == {Service.POSTGRES}


def test_an_override_naming_a_service_the_compose_file_lacks_is_one_line() -> None:
    with pytest.raises(HarnessError, match=r"image override x.toml: the compose file has no "
                                           r"service nosuch$"):
        plan_stack(None, override=ImageOverride({}, {"nosuch": "why"}, "x.toml"))


def test_the_override_file_round_trips_and_bad_ones_are_one_line(tmp_path: Path) -> None:
    override = plan_override(BUILT, compose_images(), {})
    path = tmp_path / "override.toml"
    path.write_text(override.to_toml())
    again = load_override(path)
    assert (again.images, again.unavailable, again.source) == (
        override.images, override.unavailable, str(path))
    assert override_from_environ({ENV_VAR: str(path)}).images == override.images
    assert override_from_environ({}) == ImageOverride()
    for text, message in (("[images\n", "is not TOML"),
                          ("[images]\n'a' = ''\n", r"\[images\] must map names to non-empty"),
                          ("[volumes]\n", r"unknown table\(s\) volumes")):
        path.write_text(text)
        with pytest.raises(HarnessError, match=message):
            load_override(path)
    with pytest.raises(HarnessError, match="cannot read image override"):
        load_override(tmp_path / "missing.toml")


def test_image_names_and_content_keys(tmp_path: Path) -> None:
    assert repository("supabase/postgres:15.8.1.085") == "supabase/postgres"
    assert repository("redis:7.4.2-alpine") == "redis"
    assert repository("localhost:5000/a/b:1") == "localhost:5000/a/b"
    (tmp_path / "Dockerfile").write_text("FROM debian:bookworm-slim\n")
    first = context_key(tmp_path, "base1")
    assert context_key(tmp_path, "base2") != first
    (tmp_path / "Dockerfile").write_text("FROM debian:bookworm-slim\nRUN true\n")
    assert context_key(tmp_path, "base1") != first


def test_the_base_rootfs_is_trimmed_and_named_by_its_recipe(tmp_path: Path) -> None:
    lists = tmp_path / "var" / "lib" / "apt" / "lists"
    lists.mkdir(parents=True)
    (lists / "deb.debian.org_Packages").write_text("x")
    trim(tmp_path)
    assert not list(lists.iterdir())
    assert (tmp_path / "usr/sbin/policy-rc.d").read_text().endswith("exit 101\n")
    assert "bookworm-security" in (tmp_path / "etc/apt/sources.list").read_text()
    assert set(TRIM) <= {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    assert len(recipe_key()) == 16


ROUTES = """Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
br0\t0000C80A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
"""


def test_the_engine_takes_a_pool_no_route_uses() -> None:
    routes = routed_networks(ROUTES)
    assert ipaddress.IPv4Network("192.0.2.0/24") in routes
    assert ipaddress.IPv4Network("10.200.0.0/16") in routes
    for seed in range(20):
        pool = free_pool(routes, random.Random(seed))
        assert pool != "10.200.0.0/16" and pool.startswith("10.") and pool.endswith(".0.0/16")


def test_only_bridges_in_a_dead_owners_recorded_pool_are_stale() -> None:
    shown = ("5: br-aaaaaaaaaaaa    inet 10.201.0.1/24 brd 10.201.0.255 scope global x\n"
             "6: br-bbbbbbbbbbbb    inet 10.202.3.1/24 brd 10.202.3.255 scope global x\n"
             "7: br-cccccccccccc    inet 172.18.0.1/16 brd 172.18.255.255 scope global x\n"
             "2: eth0    inet 10.203.0.2/24 brd 10.203.0.255 scope global eth0\n")
    found = bridges(shown)
    assert set(found) == {"br-aaaaaaaaaaaa", "br-bbbbbbbbbbbb", "br-cccccccccccc"}
    # 10.201 is recorded to a dead engine: its bridge is stale. 10.202 (a live engine's, or
    # nobody's in the ledger) and 172.18 (the system's) are never touched.
    assert stale_bridges(found, {"10.201.0.0/16"}) == ["br-aaaaaaaaaaaa"]
    assert stale_bridges(found, set()) == []


def test_the_pool_ledger_tells_live_owners_from_dead_ones(tmp_path: Path) -> None:
    record_pool("10.230.0.0/16", tmp_path)
    (ledger(tmp_path) / "10.231.0.0_16").write_text("999999999 1\n")  # no such process
    (ledger(tmp_path) / "10.232.0.0_16").write_text("garbage\n")  # half written: skipped
    live, dead = recorded_pools(tmp_path)
    assert live == {"10.230.0.0/16"}
    assert set(dead) == {"10.231.0.0/16"}
    release_pool("10.230.0.0/16", tmp_path)  # no bridge in it on this machine
    assert sorted(p.name for p in ledger(tmp_path).iterdir()) == ["10.231.0.0_16",
                                                                  "10.232.0.0_16"]


def test_without_debootstrap_or_when_a_step_fails_the_base_is_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cached(tmp_path) is None
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    with pytest.raises(TargetUnavailable, match=r"^debootstrap is not installed: run "
                                                r"scripts/setup.sh"):
        rootfs_tarball(tmp_path)
    with pytest.raises(TargetUnavailable, match=r"^tar failed \(2\): .*not recoverable"):
        run_step(["/bin/tar", "-C", str(tmp_path / "no-such-folder"), "-cf", "/dev/null", "."],
                 "tar")


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception),
                                              ("", pytest.skip.Exception)])
def test_an_engine_that_cannot_start_fails_the_test_in_ci_and_skips_it_elsewhere(
        monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]) -> None:
    from soberharness.testing import docker_engine_start

    class NoEngine:
        def start(self) -> None:
            raise TargetUnavailable("no Docker engine: dockerd is not installed")

    monkeypatch.setattr(docker_engine_start, "DockerEngine", NoEngine)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="dockerd is not installed") as raised:
        docker_engine_start.started_engine()
    assert ("CI needs a Docker engine" in str(raised.value)) == bool(ci)

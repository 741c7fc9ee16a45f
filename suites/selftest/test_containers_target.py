"""The containers target: what it would start (no engine needed) and its fail-fast check."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import jwt
import pytest

from soberharness.config.envcheck import TEMPLATES, check_env
from soberharness.config.envfile import read_env_file
from soberharness.errors import HarnessError, ServiceMissing, TargetUnavailable
from soberharness.targets.base import Service
from soberharness.targets.containers import (
    ContainersTarget,
    check_engine,
    endpoints,
    fresh_secrets,
    interpolate,
    parse_duration_ns,
    plan_stack,
)

STACK = Path(__file__).resolve().parents[2] / "stack"


def test_database_only_still_brings_what_the_migrations_need() -> None:
    plan = plan_stack({Service.POSTGRES})
    names = set(plan.names)
    assert {"db", "migrate", "auth", "storage", "minio", "minio-createbucket"} <= names
    assert not names & {"realtime", "functions", "redis", "gateway"}


def test_mail_only_is_one_container() -> None:
    assert plan_stack({Service.MAIL}).names == ("mail",)


def test_http_services_come_through_the_gateway() -> None:
    plan = plan_stack({Service.REALTIME})
    assert "gateway" in plan.names and "realtime" in plan.names
    assert "functions" not in plan.names
    assert plan.container("gateway").published == (8000,)
    assert Service.REALTIME in plan.services and Service.FUNCTIONS not in plan.services


def test_full_plan_covers_every_service_but_the_fault_proxy() -> None:
    plan = plan_stack()
    assert plan.services == frozenset(Service) - {Service.PROXY}
    with pytest.raises(ServiceMissing, match="'proxy'"):
        plan_stack({Service.PROXY})


def test_start_order_respects_dependencies() -> None:
    plan = plan_stack()
    position = {name: i for i, name in enumerate(plan.names)}
    for spec in plan.containers:
        for dep in spec.depends_on:
            assert position[dep] < position[spec.name], (dep, spec.name)
    assert plan.names[-1] == "gateway"


def test_wait_strategies_follow_the_compose_health_checks() -> None:
    plan = plan_stack()
    assert plan.container("db").wait.kind == "healthcheck"
    assert plan.container("db").healthcheck["test"][:2] == ["CMD", "pg_isready"]
    assert plan.container("db").healthcheck["interval"] == 5_000_000_000
    assert plan.container("migrate").wait.kind == "exit"
    assert plan.container("minio-createbucket").wait.kind == "exit"
    assert all(
        spec.wait.kind == "healthcheck"
        for spec in plan.containers
        if spec.name not in {"migrate", "minio-createbucket"}
    )


def test_environment_consistent_with_the_keys() -> None:
    plan = plan_stack()
    keys = plan.keys
    assert keys.jwt_secret and keys.jwt_secret != read_env_file(TEMPLATES["local"])["JWT_SECRET"]
    assert jwt.decode(keys.anon_key, keys.jwt_secret, algorithms=["HS256"])["role"] == "anon"
    assert (
        jwt.decode(keys.service_key, keys.jwt_secret, algorithms=["HS256"])["role"]
        == "service_role"
    )
    env = {name: spec.env for name, spec in zip(plan.names, plan.containers, strict=True)}
    assert env["auth"]["GOTRUE_JWT_SECRET"] == keys.jwt_secret
    assert env["rest"]["PGRST_JWT_SECRET"] == keys.jwt_secret
    assert env["realtime"]["API_JWT_SECRET"] == keys.jwt_secret
    assert env["storage"]["AUTH_JWT_SECRET"] == keys.jwt_secret
    assert env["storage"]["ANON_KEY"] == keys.anon_key
    assert env["storage"]["SERVICE_KEY"] == keys.service_key
    assert env["gateway"]["ANON_KEY"] == keys.anon_key
    assert env["db"]["POSTGRES_PASSWORD"] == plan.env["POSTGRES_PASSWORD"]
    assert plan.env["POSTGRES_PASSWORD"] in env["auth"]["GOTRUE_DB_DATABASE_URL"]
    # ... and the realtime health check carries the run's anon key, not the template's.
    assert keys.anon_key in " ".join(plan.container("realtime").healthcheck["test"])
    assert check_env(plan.env) == []


def test_each_run_gets_new_secrets() -> None:
    base = read_env_file(TEMPLATES["local"])
    one, two = fresh_secrets(base), fresh_secrets(base)
    assert one["JWT_SECRET"] != two["JWT_SECRET"]
    assert one["POSTGRES_PASSWORD"] != two["POSTGRES_PASSWORD"]


def test_bind_mounts_point_into_the_stack_folder() -> None:
    plan = plan_stack()
    db_mounts = {target: host for host, target, _ in plan.container("db").binds}
    assert db_mounts["/sober/migrations"] == str(STACK / "migrations")
    assert db_mounts["/sober/bootstrap"] == str(STACK / "bootstrap")
    assert Path(db_mounts["/docker-entrypoint-initdb.d/init-scripts/99-roles.sql"]).is_file()
    gateway = {target: host for host, target, _ in plan.container("gateway").binds}
    assert Path(gateway["/etc/nginx/templates/default.conf.template"]).is_file()
    assert "realtime-dev.supabase-realtime" in plan.container("realtime").aliases


def test_endpoints_from_mapped_ports() -> None:
    plan = plan_stack({Service.REST, Service.MAIL})
    found = endpoints(plan, {("gateway", 8000): 49153, ("mail", 8025): 49154, ("db", 5432): 49155})
    assert found[Service.REST] == "http://127.0.0.1:49153/rest/v1"
    assert found[Service.AUTH] == "http://127.0.0.1:49153/auth/v1"
    assert found[Service.MAIL] == "http://127.0.0.1:49154"
    assert found[Service.POSTGRES].startswith("postgresql://supabase_admin:")
    assert found[Service.POSTGRES].endswith("@127.0.0.1:49155/postgres")
    assert Service.REALTIME not in found


def test_interpolation_and_durations() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert interpolate("x${A}y$${A}", env) == "x1y${A}"
    assert interpolate("${EMPTY:-d}|${EMPTY-d}|${NONE-d}", env) == "d||d"
    with pytest.raises(HarnessError, match=r"\$\{NONE\} is not defined"):
        interpolate("${NONE}", env)
    assert parse_duration_ns("1m30s") == 90_000_000_000
    assert parse_duration_ns("500ms") == 500_000_000
    with pytest.raises(HarnessError):
        parse_duration_ns("soon")


# -- fail fast ------------------------------------------------------------------------------


def test_no_engine_on_this_machine_fails_fast_with_one_line(tmp_path: Path) -> None:
    socket_path = tmp_path / "docker.sock"  # nothing listens here
    target = ContainersTarget(needs={Service.REST}, engine=f"unix://{socket_path}")
    with pytest.raises(TargetUnavailable) as info:
        target.start()
    message = str(info.value)
    assert message.startswith(f"no Docker engine reachable at unix://{socket_path}: ")
    assert "start dockerd or use --target local" in message
    assert "\n" not in message
    with pytest.raises(HarnessError, match="not started"):
        target.url(Service.REST)


def test_default_engine_address_is_checked_for_real(monkeypatch: pytest.MonkeyPatch) -> None:
    # This machine runs no Docker engine: the default address gives the one-line refusal.
    # Where an engine does answer, the check passes, and the socket is really there.
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    target = ContainersTarget(needs={Service.MAIL})
    try:
        check_engine()
    except TargetUnavailable as exc:
        assert str(exc).startswith("no Docker engine reachable at unix:///var/run/docker.sock: ")
        with pytest.raises(TargetUnavailable, match="start dockerd or use --target local"):
            target.start()
    else:
        assert Path("/var/run/docker.sock").exists()


def test_closed_tcp_engine_and_a_non_docker_answer_are_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TargetUnavailable, match=f"tcp://127.0.0.1:{port}"):
        check_engine(f"tcp://127.0.0.1:{port}", timeout_s=1.0)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer_garbage() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(256)
            conn.sendall(b"SSH-2.0-OpenSSH\r\n")

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    try:
        with pytest.raises(TargetUnavailable, match="did not answer the ping"):
            check_engine(f"tcp://127.0.0.1:{listener.getsockname()[1]}", timeout_s=2.0)
    finally:
        thread.join(timeout=5)
        listener.close()

"""The remote target: target-file validation, secrets from the environment, bounded checks."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from soberharness.errors import HarnessError, ServiceMissing, TargetUnavailable
from soberharness.targets.base import Service
from soberharness.targets.remote import (
    RemoteTarget,
    TargetFileError,
    load_target_file,
    parse_target_config,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "fixtures" / "targets" / "example-remote.toml"
ENV = {"ANON": "anon-key-value", "SERVICE": "service-key-value", "SECRET": "s" * 40}


class FakeGatewayServer:
    """Protocol double of an HTTP endpoint: answers every GET with one status, records headers."""

    def __init__(self, status: int) -> None:
        seen: list[dict[str, str]] = []
        self.seen = seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append({"path": self.path, **dict(self.headers)})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGatewayServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "t1",
        "cloud": "gcp",
        "region": "europe-west1",
        "urls": {"rest": "http://127.0.0.1:1/rest/v1"},
        "secrets": {
            "anon_key_env": "ANON",
            "service_key_env": "SERVICE",
            "jwt_secret_env": "SECRET",
        },
    }
    data.update(overrides)
    return data


def target(**overrides: Any) -> RemoteTarget:
    return RemoteTarget(parse_target_config(config(**overrides)), environ=ENV)


# -- the file -----------------------------------------------------------------------------


def test_example_file_loads() -> None:
    remote = load_target_file(EXAMPLE, environ={})
    assert remote.kind == "remote"
    assert remote.name == "staging-eu"
    assert remote.labels["cloud"] == "aws"
    assert remote.labels["region"] == "eu-central-1"
    assert remote.services == {
        Service.REST,
        Service.AUTH,
        Service.REALTIME,
        Service.STORAGE,
        Service.FUNCTIONS,
        Service.IMAGE_TRANSFORMATION,  # declared in capabilities, served by storage
    }
    assert "image-transformation" in remote.capabilities
    assert remote.url(Service.REST) == "https://api.staging.sobertube.example/rest/v1"
    assert remote.allows_destructive is False
    assert "staging-eu (remote, aws/eu-central-1" in remote.describe()


def test_absent_url_means_service_not_offered() -> None:
    remote = target()
    assert remote.missing([Service.REST, Service.STORAGE]) == [Service.STORAGE]
    with pytest.raises(ServiceMissing, match="service 'storage' is not available on target 't1'"):
        remote.url(Service.STORAGE)
    with pytest.raises(ServiceMissing, match="'postgres'"):
        remote.admin_dsn()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"anon_key": "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.sig"}, "unknown key(s) anon_key"),
        (
            {
                "secrets": {
                    "anon_key_env": "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.sig",
                    "service_key_env": "SERVICE",
                }
            },
            "got an inline secret",
        ),
        ({"secrets": {"anon_key": "abc", "service_key_env": "S"}}, "*_env references"),
        (
            {
                "secrets": {
                    "anon_key_env": "ANON",
                    "service_key_env": "S",
                    "database_dsn_env": "postgresql://u:p@h/db",
                }
            },
            "got an inline secret",
        ),
        ({"urls": {"rest": "https://u:pw@api.example/rest/v1"}}, "carries a credential"),
        ({"urls": {"rest": "https://api.example/rest/v1?apikey=abc"}}, "carries a credential"),
        ({"urls": {"graphql": "https://api.example/graphql/v1"}}, "unknown service"),
        ({"urls": {"rest": "ftp://api.example"}}, "is not a URL"),
        ({"secrets": {"anon_key_env": "ANON"}}, "service_key_env is required"),
        ({"name": "Has Spaces"}, "name must be"),
        ({"kind": "local"}, "kind = 'local'"),
        ({"capabilities": ["storage"]}, "capability 'storage' listed without urls.storage"),
        ({"capabilities": ["postgres"]}, "without database_dsn_env"),
        ({"capabilities": ["image-transformation"]},
         "capability 'image-transformation' listed without urls.storage"),
        ({"destructive": {"allowed": "yes"}}, "must be true or false"),
        (
            {"labels": {"token": "a8f5f167f44f4964e6c998dee827110c"}},
            "labels.token looks like a secret",
        ),
    ],
)
def test_bad_files_are_one_line_errors(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(TargetFileError) as info:
        parse_target_config(config(**overrides), origin="x.toml")
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert "eyJ" not in text and "pw@" not in text  # the error never repeats the secret


def test_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(TargetFileError, match="cannot read target file"):
        load_target_file(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed\n")
    with pytest.raises(TargetFileError, match="not valid TOML"):
        load_target_file(bad)


def test_keys_come_from_the_environment() -> None:
    keys = target().keys
    assert (keys.anon_key, keys.service_key, keys.jwt_secret) == (
        "anon-key-value",
        "service-key-value",
        "s" * 40,
    )


def test_missing_environment_variable_is_named() -> None:
    remote = RemoteTarget(parse_target_config(config()), environ={"ANON": "a"})
    with pytest.raises(TargetUnavailable, match=r"environment variable SERVICE \(service_key_env"):
        remote.start()


def test_admin_dsn_sets_database() -> None:
    remote = RemoteTarget(
        parse_target_config(
            config(
                secrets={
                    "anon_key_env": "ANON",
                    "service_key_env": "SERVICE",
                    "database_dsn_env": "DSN",
                }
            )
        ),
        environ={**ENV, "DSN": "postgresql://admin:pw@127.0.0.1:5999/postgres"},
    )
    assert Service.POSTGRES in remote.services
    assert "dbname=other" in remote.admin_dsn("other")


# -- reachability -------------------------------------------------------------------------


def test_reachable_services_start_and_send_the_anon_key() -> None:
    with FakeGatewayServer(200) as rest, FakeGatewayServer(401) as auth:
        remote = target(urls={"rest": rest.url + "/rest/v1", "auth": auth.url + "/auth/v1"})
        remote.start()
    assert rest.seen[0]["path"] == "/rest/v1/"
    assert rest.seen[0]["apikey"] == "anon-key-value"
    assert auth.seen[0]["path"] == "/auth/v1/health"


def test_unreachable_service_named_with_its_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}/auth/v1"
    remote = target(urls={"auth": url})
    with pytest.raises(TargetUnavailable) as info:
        remote.start()
    assert str(info.value).startswith(f"target 't1': auth at {url}: unreachable")
    assert "\n" not in str(info.value)


def test_gateway_error_means_service_down() -> None:
    with FakeGatewayServer(502) as storage:
        remote = target(urls={"storage": storage.url + "/storage/v1"})
        with pytest.raises(TargetUnavailable, match=r"storage at .* gateway answers 502"):
            remote.start()


def test_silent_endpoint_times_out_within_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    import soberharness.targets.remote as remote_module

    monkeypatch.setattr(remote_module, "CHECK_TIMEOUT_S", 0.5)
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/rest/v1"
        remote = target(urls={"rest": url})
        with pytest.raises(TargetUnavailable, match=r"rest at .*: no answer within 0.5 s"):
            remote.start()


def test_unreachable_database_named_without_password() -> None:
    port = closed_port()
    remote = RemoteTarget(
        parse_target_config(config(urls={}, secrets={"database_dsn_env": "DSN"})),
        environ={"DSN": f"postgresql://admin:hunter2secret@127.0.0.1:{port}/sober"},
    )
    with pytest.raises(TargetUnavailable) as info:
        remote.start()
    text = str(info.value)
    assert f"postgres at 127.0.0.1:{port}/sober" in text
    assert "hunter2secret" not in text


@pytest.fixture(scope="module")
def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from soberharness.targets.postgres import PostgresServer, find_bindir

    try:
        find_bindir()
    except HarnessError as exc:
        pytest.skip(f"needs postgres (a local PostgreSQL 15+ server): {exc}")
    server = PostgresServer(tmp_path_factory.mktemp("remote-pg") / "pg")
    server.start()
    try:
        yield server.dsn()
    finally:
        server.stop()


def test_reachable_database_starts(postgres_dsn: str) -> None:
    remote = RemoteTarget(
        parse_target_config(config(urls={}, secrets={"database_dsn_env": "DSN"})),
        environ={"DSN": postgres_dsn},
    )
    remote.start()
    assert remote.services == {Service.POSTGRES}
    assert remote.admin_dsn() == postgres_dsn


def test_a_setting_naming_a_description_file_is_no_secret_but_a_random_one_is() -> None:
    spec = "/tmp/pytest-of-ci/pytest-210/run0/gotrue-openapi.yaml"
    parsed = parse_target_config(config(settings={"GOTRUE_OPENAPI_SPEC": spec}), origin="x.toml")
    assert parsed.settings["GOTRUE_OPENAPI_SPEC"] == spec
    with pytest.raises(TargetFileError, match=r"settings\.GOTRUE_OPENAPI_SPEC looks like a secret"):
        parse_target_config(config(settings={"GOTRUE_OPENAPI_SPEC": "/a8f5f167f44f4964e6c998de"}),
                            origin="x.toml")

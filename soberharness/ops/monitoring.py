"""The stack's monitoring run for real on this machine: a PostgreSQL of its own, the exporters
the compose file deploys (Debian's postgres and nginx exporters), the gateway's nginx with the
stack's template, Alertmanager posting to a test's webhook receiver, and Prometheus with the
stack's prometheus.yml and alert rules rendered for these processes (soberharness.ops.render).

Every process listens on 127.0.0.1 on a port the OS chose, lives in a temporary folder, is a
ManagedProcess (killed with the harness if it dies) and is stopped by `stop()`, whatever
happened. Use as a context manager.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import yaml

from soberharness.config.envcheck import COMPOSE_FILE, TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.db import session as db_session
from soberharness.errors import HarnessError
from soberharness.ops import deployed, tls, tools, traffic
from soberharness.ops.backups import BackupStanza
from soberharness.ops.gateway import (
    GATEWAY_TEMPLATE,
    nginx_main,
    point_upstreams,
    render_gateway,
    upstream_names,
)
from soberharness.ops.render import Rendered, Timing, render
from soberharness.targets import workdirs
from soberharness.targets.local import LocalTarget
from soberharness.targets.migrations import (
    STACK_BOOTSTRAP,
    STACK_MIGRATIONS,
    apply_file,
    apply_up,
    bootstrap_files,
    discover,
)
from soberharness.targets.postgres import SUPERUSER
from soberharness.targets.services.process import (
    ManagedProcess,
    free_port,
    http_ready,
    tcp_ready,
)
from soberharness.targets.services.tools import REPO_ROOT

MONITORING = REPO_ROOT / "stack" / "monitoring"
# Debian's postgres_exporter is 0.11; the compose file's is 0.15, whose replication collector
# exports pg_replication_lag_seconds (0 on a primary). This file gives 0.11 that metric.
EXPORTER_QUERIES = Path(__file__).with_name("postgres_exporter_queries.yml")


class MonitoringStack:
    def __init__(self, webhook_url: str, timing: Timing | None = None,
                 monitoring: Path = MONITORING, compose_file: Path = COMPOSE_FILE,
                 gateway_template: Path = GATEWAY_TEMPLATE,
                 migrations: Path = STACK_MIGRATIONS) -> None:
        self.webhook_url = webhook_url
        self.migrations = migrations
        self.timing = timing or Timing()
        self.monitoring = monitoring
        self.compose_file = compose_file
        self.compose: dict[str, Any] = yaml.safe_load(compose_file.read_text())
        self.gateway_template = gateway_template.read_text()
        self.listeners = deployed.listeners(self.compose, self.gateway_template)
        self.target = LocalTarget(name="ops-monitoring")
        self.workdir: Path | None = None
        self.addresses: dict[str, str] = {}  # in-network host:port -> 127.0.0.1:port
        self.processes: list[ManagedProcess] = []
        self.backups: BackupStanza | None = None
        self.backed_up_at = 0.0  # when the first backup completed (epoch seconds)
        self.rendered: Rendered | None = None
        self.prometheus_url = ""

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> MonitoringStack:
        reason = tools.missing("prometheus", "alertmanager", *self._roles_needed())
        if reason:
            raise HarnessError(reason)
        try:
            self.workdir = workdirs.make_workdir()
            self._start_database()
            self._start_gateway()
            self._start_exporters()
            self._first_request()
            alertmanager = self._start_alertmanager()
            self._start_prometheus(alertmanager)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                process.stop()
        self.processes.clear()
        with contextlib.suppress(Exception):
            self.target.stop()
        if self.workdir is not None:
            workdirs.remove_workdir(self.workdir)
            self.workdir = None

    def __enter__(self) -> MonitoringStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pg(self) -> Any:
        return self.target.pg

    @property
    def dashboards(self) -> Path:
        """The stack's dashboard JSON files (Grafana's provisioned dashboards)."""
        return self.monitoring / "dashboards"

    @property
    def exporter_dsn(self) -> str:
        """The database the postgres exporter reads, as its owner (the compose file's DSN
        names the database the migrations run in: the local one is `postgres`)."""
        return self.pg.dsn("postgres")

    # -- pieces -------------------------------------------------------------------------------
    def _roles_needed(self) -> list[str]:
        roles = {listener.role for listener in self.listeners.values()}
        needed = [r for r in ("postgres-exporter", "nginx-exporter", "mtail") if r in roles]
        needed += ["pgbackrest"] if "postgres-exporter" in roles else []
        return needed + (["nginx"] if "gateway" in roles else [])

    def _dir(self, name: str) -> Path:
        assert self.workdir is not None
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _run(self, name: str, argv: list[str], ready: Any, env: dict[str, str] | None = None
             ) -> ManagedProcess:
        process = ManagedProcess(name, argv, env, self._dir("logs") / f"{name}.log", ready,
                                 ready_timeout=30.0, cwd=self._dir(name))
        self.processes.append(process)  # before start: stop() reaches it whatever happens
        return process.start()

    def _local(self, role: str) -> dict[str, int]:
        """A fresh 127.0.0.1 port for every address where `role` listens."""
        ports = {}
        for address, listener in self.listeners.items():
            if listener.role == role:
                port = ports.get(address) or free_port()
                ports[address] = port
                self.addresses[address] = f"127.0.0.1:{port}"
        return ports

    def _service(self, role: str) -> tuple[str, dict[str, Any]] | None:
        for address, listener in self.listeners.items():
            if listener.role == role and not address.startswith("localhost:"):
                return listener.service, self.compose["services"][listener.service]
        return None

    def _mounted(self, service_name: str, under: str) -> list[Path]:
        """Files of this repository a compose service bind-mounts at or under `under`."""
        found = []
        compose_dir = self.compose_file.parent
        for entry in self.compose["services"].get(service_name, {}).get("volumes") or []:
            source, _, rest = str(entry).partition(":")
            target = rest.split(":", 1)[0]
            if source.startswith(".") and (target == under or target.startswith(under + "/")):
                found.append((compose_dir / source).resolve())
        return found

    def _db_service(self) -> str | None:
        """The compose service the postgres exporter's DSN names (its PostgreSQL)."""
        found = self._service("postgres-exporter")
        if found is None:
            return None
        dsn = str((found[1].get("environment") or {}).get("DATA_SOURCE_NAME", ""))
        match = re.search(r"@([\w.-]+):", dsn)
        return match.group(1) if match else None

    def _start_database(self) -> None:
        """The stack's PostgreSQL, archiving into a pgBackRest repository of its own: in the
        database the exporter reads, the bootstrap (the image's part), the monitoring folder's
        init scripts the compose file mounts into the database, then the stack's migrations
        (the KPI views among them); and one full backup (so the backup age has a series from
        the start)."""
        program = tools.find("pgbackrest")
        if program is None or self._service("postgres-exporter") is None:
            self.target.pg.start()
            return
        self.backups = BackupStanza(self._dir("pgbackrest"), program)
        self.target = LocalTarget(name="ops-monitoring", pg_settings=self.backups.settings())
        pg = self.target.pg
        self.backups.configure(pg.data, pg.port, pg.sockets)
        pg.start()
        db = self._db_service()
        scripts = self._mounted(db, "/docker-entrypoint-initdb.d") if db else []
        with db_session.connect(self.exporter_dsn, connect_timeout=5, autocommit=True) as conn:
            for path in bootstrap_files(STACK_BOOTSTRAP):  # the image's roles and schemas
                apply_file(conn, path)
            for script in scripts:
                if script.is_relative_to(self.monitoring.resolve()) and script.suffix == ".sql":
                    conn.execute(script.read_text())  # type: ignore[call-overload]
            apply_up(conn, discover(self.migrations))  # the compose file's `migrate`
        self.backups.create()
        self.backed_up_at = self.backups.backup()

    def _exporter_queries(self, name: str, service: dict[str, Any]) -> Path:
        """The queries file for Debian's exporter: the harness's (0.15's metrics 0.11 lacks)
        and the one the compose file gives the exporter (`--extend.query-path`), merged (0.11
        reads one file)."""
        queries = yaml.safe_load(EXPORTER_QUERIES.read_text()) or {}
        given = deployed.command_flag(service, "extend.query-path")
        if given:
            mounted = [p for p in self._mounted(name, given) if p.is_file()]
            if not mounted:
                raise HarnessError(f"compose {name}: {given} is not a file the compose "
                                   "file mounts")
            queries.update(yaml.safe_load(mounted[0].read_text()) or {})
        path = self._dir("postgres-exporter") / "queries.yml"
        path.write_text(yaml.safe_dump(queries))
        return path

    def _start_gateway(self) -> None:
        ports = self._local("gateway")
        if not ports:
            return
        env = read_env_file(TEMPLATES["local"])
        inside = {int(a.rsplit(":", 1)[1]): p for a, p in ports.items()}
        prefix = self._dir("gateway")
        text = render_gateway(self.gateway_template, env, inside)
        # No service stands behind it here: every route answers 502 at once (a closed port on
        # this machine, no name looked up).
        closed = f"127.0.0.1:{free_port()}"
        text = point_upstreams(text, {name: closed for name in upstream_names(text)})
        text = tls.tls_here(text, tls.make_test_ca(prefix / "tls"))
        (prefix / "gateway.conf").write_text(self._local_logs(text))
        conf = nginx_main(prefix, "gateway.conf")
        first = next(iter(inside.values()))
        self._run("gateway", [str(tools.find("nginx")), "-e", "stderr", "-p", f"{prefix}/",
                              "-c", str(conf), "-g", "daemon off;"],
                  tcp_ready("127.0.0.1", first))

    def _file(self, service_name: str, path: str) -> Path:
        """Where `path` of a compose service's file system is here: in the folder standing for
        the named volume mounted over it (shared by the services mounting it), else in one
        of the service's own."""
        found = deployed.volume_at(self.compose["services"][service_name], path)
        local = (self._dir("volumes") / found[0] / found[1] if found
                 else self._dir(f"files-{service_name}") / path.lstrip("/"))
        local.parent.mkdir(parents=True, exist_ok=True)
        return local

    def _local_logs(self, text: str) -> str:
        """The gateway's `access_log /path ...` files moved to where _file puts them."""
        found = self._service("gateway")
        if found is None:
            return text
        return re.sub(r"(access_log\s+)(/[^\s;]+)",
                      lambda m: m.group(1) + str(self._file(found[0], m.group(2))), text)

    def _start_mtail(self) -> None:
        found = self._service("mtail")
        for _address, port in self._local("mtail").items():
            assert found is not None
            name, service = found
            logs = deployed.command_value(service, "logs")
            if not logs:
                raise HarnessError(f"compose {name}: mtail's command names no -logs")
            self._run(f"mtail-{port}",
                      [str(tools.find("mtail")), "-progs", str(self.monitoring / "mtail"),
                       "-logs", ",".join(str(self._file(name, p)) for p in logs.split(",")),
                       "-address", "127.0.0.1", "-port", str(port), "-logtostderr"],
                      http_ready(f"http://127.0.0.1:{port}/metrics"))

    def _start_exporters(self) -> None:
        self._start_mtail()
        for address, port in self._local("postgres-exporter").items():
            dsn = (f"postgresql://{SUPERUSER}@127.0.0.1:{self.pg.port}/postgres"
                   "?sslmode=disable&connect_timeout=3")
            queries = self._exporter_queries(*self._service("postgres-exporter") or ("", {}))
            self._run(f"postgres-exporter-{port}",
                      [str(tools.find("postgres-exporter")),
                       f"--web.listen-address=127.0.0.1:{port}",
                       f"--extend.query-path={queries}"],
                      http_ready(f"http://127.0.0.1:{port}/metrics"),
                      {"DATA_SOURCE_NAME": dsn})
            del address
        found = self._service("nginx-exporter")
        for _address, port in self._local("nginx-exporter").items():
            assert found is not None
            name, service = found
            uri = deployed.command_flag(service, "nginx.scrape-uri") \
                or "http://127.0.0.1:8080/stub_status"
            match = re.match(r"(https?://)([^/]+)(/.*)?$", uri)
            if not match:
                raise HarnessError(f"compose {name}: scrape URI {uri!r} is not http(s)://host/path")
            where = deployed.in_network(match.group(2), name, service)
            local = self.addresses.get(where, match.group(2))
            self._run(f"nginx-exporter-{port}",
                      [str(tools.find("nginx-exporter")),
                       f"-nginx.scrape-uri={match.group(1)}{local}{match.group(3) or ''}",
                       "-nginx.retries=0", f"-web.listen-address=127.0.0.1:{port}"],
                      http_ready(f"http://127.0.0.1:{port}/metrics"))

    @property
    def gateway_url(self) -> str:
        """The gateway's API server here ("" when the compose file deploys no gateway)."""
        ports = deployed.gateway_ports(self.gateway_template)  # the API server's comes first
        host = self._service_host("gateway")
        local = self.addresses.get(f"{host}:{ports[0]}", "") if host and ports else ""
        return f"http://{local}" if local else ""

    def _service_host(self, role: str) -> str:
        found = self._service(role)
        return deployed.namespace_of(*found) if found else ""

    def _first_request(self) -> None:
        """One request through the gateway, as a deployment's first client makes: the request
        counter has its first series (mtail exports a counter once it has counted a line)."""
        if self.gateway_url:
            traffic.get_status(self.gateway_url + "/rest/v1/")

    def _start_alertmanager(self) -> str:
        folder = self._dir("alertmanager")
        config = {
            "route": {"receiver": "test", "group_by": ["alertname"], "group_wait": "0s",
                      "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "test", "webhook_configs": [
                {"url": self.webhook_url, "send_resolved": True}]}],
        }
        (folder / "alertmanager.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        self._run("alertmanager", [
            str(tools.find("alertmanager")), f"--config.file={folder / 'alertmanager.yml'}",
            f"--storage.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ], http_ready(f"http://127.0.0.1:{port}/-/ready"))
        return f"127.0.0.1:{port}"

    def _start_prometheus(self, alertmanager: str) -> None:
        port = free_port()
        for address in [a for a, lst in self.listeners.items() if lst.role == "prometheus"]:
            self.addresses[address] = f"127.0.0.1:{port}"
        config = yaml.safe_load((self.monitoring / "prometheus.yml").read_text())
        folder = self._dir("prometheus")
        rules: dict[str, Any] = {"groups": []}
        for name in config.get("rule_files") or []:
            loaded = yaml.safe_load((self.monitoring / name).read_text())
            rules["groups"] += loaded.get("groups") or []
        self.rendered = render(config, rules, self.addresses, self.timing, alertmanager,
                               nowhere=f"127.0.0.1:{free_port()}")
        self.rendered.config["rule_files"] = ["rules.yml"]
        (folder / "prometheus.yml").write_text(yaml.safe_dump(self.rendered.config))
        (folder / "rules.yml").write_text(yaml.safe_dump(self.rendered.rules))
        self._run("prometheus", [
            str(tools.find("prometheus")), f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
        ], http_ready(f"http://127.0.0.1:{port}/-/ready"))
        self.prometheus_url = f"http://127.0.0.1:{port}"

"""The `containers` target: the official images of stack/compose/docker-compose.yml, started
through testcontainers, the subset a suite needs.

The plan (which containers, their environment, published ports, wait strategies and start
order) is derived from the compose file itself and built without any engine
(`plan_stack`); `ContainersTarget.start()` first checks that a Docker engine answers (a
short timeout, one clear line if not), then starts the plan, waits on health, and always
removes what it started.

    target = ContainersTarget(needs={Service.REST, Service.AUTH})
    with target:
        target.url(Service.REST)      # http://127.0.0.1:<port>/rest/v1 (the nginx gateway)
        target.admin_dsn()            # postgresql://supabase_admin:...@127.0.0.1:<port>/postgres
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import socket
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from soberharness import services
from soberharness.config.composecheck import load_compose
from soberharness.config.envcheck import COMPOSE_FILE, TEMPLATES, make_api_key
from soberharness.config.envfile import read_env_file
from soberharness.errors import HarnessError, ServiceMissing, TargetUnavailable
from soberharness.records.redact import redact
from soberharness.targets.base import Keys, Service, Target
from soberharness.targets.container_tls import (
    TLS_SOURCE,
    DatabaseTls,
    make_database_tls,
    with_options,
)
from soberharness.targets.image_override import ImageOverride, override_from_environ

ENGINE_CHECK_TIMEOUT_S = 2.0
DEFAULT_STARTUP_TIMEOUT_S = 180.0
KEY_LIFETIME_S = 24 * 3600
LOOPBACK = "127.0.0.1"

# Which compose services give a suite each Service. HTTP services are reached through the
# gateway, as clients reach them in a deployment.
SERVICE_CONTAINERS: Mapping[Service, tuple[str, ...]] = {
    Service(f.name): f.compose for f in services.ALL if f.compose
}
# Paths of each HTTP service behind the gateway (Supabase's public layout).
GATEWAY_PATHS: Mapping[Service, str] = {
    Service(f.name): f.gateway_path for f in services.ALL if f.gateway_path
}
# Container ports published (on 127.0.0.1, random host port) per compose service.
PUBLISHED: Mapping[str, int] = {"gateway": 8000, "mail": 8025}
# Migrations always run when the database does: suites expect the SoberTube schema.
ALWAYS_WITH_DB = ("migrate",)

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|s|m|h)")


@dataclasses.dataclass(frozen=True)
class WaitSpec:
    """How to know a container is ready: its health check passes, it exited 0, or it runs."""

    kind: str  # "healthcheck" | "exit" | "running"
    timeout_s: float


@dataclasses.dataclass(frozen=True)
class ContainerSpec:
    """One container of the plan, everything interpolated; no engine objects."""

    name: str  # compose service name, also its DNS name on the run's network
    image: str  # what is started: the compose file's image, or its local stand-in
    env: Mapping[str, str]
    command: tuple[str, ...] | None
    entrypoint: tuple[str, ...] | None
    binds: tuple[tuple[str, str, str], ...]  # (host path, container path, mode)
    # Named volumes' container paths: each a fresh tmpfs of the container's own (nothing of a
    # run outlives it; a volume two containers share is not shared here).
    scratch: tuple[str, ...]
    published: tuple[int, ...]  # container ports published on 127.0.0.1
    aliases: tuple[str, ...]
    depends_on: tuple[str, ...]
    healthcheck: Mapping[str, Any] | None  # docker API form (durations in ns)
    wait: WaitSpec
    official: str = ""  # the compose file's image when an override replaced it


@dataclasses.dataclass(frozen=True)
class StackPlan:
    needs: frozenset[Service]
    containers: tuple[ContainerSpec, ...]  # in start order
    env: Mapping[str, str]  # the stack's variables (secrets included)
    unavailable: Mapping[str, str] = dataclasses.field(default_factory=dict)  # left out: why

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.containers)

    def container(self, name: str) -> ContainerSpec:
        for spec in self.containers:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def services(self) -> frozenset[Service]:
        return frozenset(
            s for s, names in SERVICE_CONTAINERS.items() if all(n in self.names for n in names)
        )

    def why_missing(self, service: Service) -> str:
        """Why `service` is not in the plan: the compose services left out that it needs."""
        names = SERVICE_CONTAINERS.get(service, ())
        reasons = [f"{n}: {self.unavailable[n]}" for n in names if n in self.unavailable]
        return "; ".join(reasons)

    @property
    def keys(self) -> Keys:
        return Keys(
            jwt_secret=self.env["JWT_SECRET"],
            anon_key=self.env["ANON_KEY"],
            service_key=self.env["SERVICE_ROLE_KEY"],
        )


# -- pure construction ----------------------------------------------------------------------


def interpolate(value: str, env: Mapping[str, str], where: str = "") -> str:
    """Compose-style ${VAR}, ${VAR:-default}, ${VAR-default} and $$ in one string."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, default = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if operator == ":-" and not value:
            return default or ""
        if operator == "-" and value is None:
            return default or ""
        if value is None:
            raise HarnessError(f"compose file{where}: ${{{name}}} is not defined")
        return value

    return _VAR.sub(replace, value)


def parse_duration_ns(text: str | int | float) -> int:
    """'5s', '1m30s', '500ms' -> nanoseconds (the unit Docker's health check API takes)."""
    if isinstance(text, int | float):
        return int(text * 1e9)
    units = {"us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
    parts = _DURATION.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text.strip():
        raise HarnessError(f"compose file: {text!r} is not a duration")
    return int(sum(float(number) * units[unit] for number, unit in parts))


def fresh_secrets(base: Mapping[str, str], now: float | None = None) -> dict[str, str]:
    """`base` with a new JWT secret and API keys signed with it, for one run."""
    now = time.time() if now is None else now
    env = dict(base)
    secret = secrets.token_urlsafe(48)
    env["JWT_SECRET"] = secret
    env["ANON_KEY"] = make_api_key(secret, "anon", int(now + KEY_LIFETIME_S))
    env["SERVICE_ROLE_KEY"] = make_api_key(secret, "service_role", int(now + KEY_LIFETIME_S))
    env["POSTGRES_PASSWORD"] = secrets.token_urlsafe(24)
    return env


def _closure(wanted: Iterable[str], compose_services: Mapping[str, Any],
             unavailable: Mapping[str, str] | None = None) -> set[str]:
    """`wanted` plus what they depend on; the gateway's dependencies count only if included,
    services without an image here (`unavailable`) never."""
    chosen: set[str] = set()
    pending = list(wanted)
    while pending:
        name = pending.pop()
        if name in chosen or name in (unavailable or {}):
            continue
        if name not in compose_services:
            raise HarnessError(f"compose file has no service '{name}'")
        chosen.add(name)
        if name == "db":
            pending.extend(ALWAYS_WITH_DB)
        if name == "gateway":
            continue  # routes to absent services answer 502; no need to start them
        pending.extend(_dependencies(compose_services[name]))
    return chosen


def _dependencies(service: Mapping[str, Any]) -> list[str]:
    deps = service.get("depends_on") or {}
    return list(deps) if isinstance(deps, list) else list(deps.keys())


def _start_order(chosen: set[str], compose_services: Mapping[str, Any]) -> list[str]:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise HarnessError(f"compose file: depends_on cycle through '{name}'")
        visiting.add(name)
        for dep in sorted(_dependencies(compose_services[name])):
            if dep in chosen:
                visit(dep)
        visiting.discard(name)
        order.append(name)

    for name in sorted(chosen):
        visit(name)
    return order


def _as_tuple(value: Any, env: Mapping[str, str], where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return ("/bin/sh", "-c", interpolate(value, env, where))
    return tuple(interpolate(str(v), env, where) for v in value)


def _spec(
    name: str,
    service: Mapping[str, Any],
    chosen: set[str],
    env: Mapping[str, str],
    compose_dir: Path,
    startup_timeout_s: float,
    override: ImageOverride,
) -> ContainerSpec:
    where = f" (service {name})"
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    container_env = {
        key: interpolate(str(value), env, where) if value is not None else ""
        for key, value in environment.items()
    }
    binds: list[tuple[str, str, str]] = []
    scratch: list[str] = []
    for volume in service.get("volumes") or []:
        source, _, rest = str(volume).partition(":")
        target, _, mode = rest.partition(":")
        if source.startswith((".", "/")):  # bind mount
            binds.append((str((compose_dir / source).resolve()), target, mode or "rw"))
        else:
            scratch.append(target)
    aliases: list[str] = []
    networks = service.get("networks") or []
    if isinstance(networks, Mapping):
        for network in networks.values():
            aliases.extend((network or {}).get("aliases", []))
    healthcheck = None
    if "healthcheck" in service:
        hc = service["healthcheck"]
        test = hc["test"]
        test = ["CMD-SHELL", test] if isinstance(test, str) else list(test)
        def value(key: str, default: str) -> str:  # compose interpolates these too
            return interpolate(str(hc.get(key, default)), env, where)

        healthcheck = {
            "test": [interpolate(str(t), env, where) for t in test],
            "interval": parse_duration_ns(value("interval", "5s")),
            "timeout": parse_duration_ns(value("timeout", "5s")),
            "retries": int(value("retries", "3")),
            "start_period": parse_duration_ns(value("start_period", "0s")),
        }
    one_shot = service.get("restart") in (None, "no") and healthcheck is None
    wait = WaitSpec(
        kind="healthcheck" if healthcheck else ("exit" if one_shot else "running"),
        timeout_s=startup_timeout_s,
    )
    official = interpolate(str(service["image"]), env, where)
    return ContainerSpec(
        name=name,
        image=override.image(official),
        official=official if override.image(official) != official else "",
        env=container_env,
        command=_as_tuple(service.get("command"), env, where),
        entrypoint=_as_tuple(service.get("entrypoint"), env, where),
        binds=tuple(binds),
        scratch=tuple(scratch),
        published=(PUBLISHED[name],) if name in PUBLISHED else (),
        aliases=tuple(aliases),
        depends_on=tuple(d for d in sorted(_dependencies(service)) if d in chosen),
        healthcheck=healthcheck,
        wait=wait,
    )


def plan_stack(
    needs: Iterable[Service] | None = None,
    env: Mapping[str, str] | None = None,
    compose_file: str | Path = COMPOSE_FILE,
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
    override: ImageOverride | None = None,
) -> StackPlan:
    """The containers for `needs` (all services the compose file offers when None).

    `env` holds the stack's variables; by default the local template with fresh secrets.
    `override` maps images to local ones and names the compose services that have none here:
    those are left out, with every need that requires one (the plan says why), and when
    `needs` is None every other container a service names is started (the gateway too).
    Raises ServiceMissing for a need the stack cannot offer (e.g. the fault proxy).
    """
    override = override or ImageOverride()
    compose = load_compose(compose_file)
    services: Mapping[str, Any] = compose["services"]
    wanted_services = frozenset(SERVICE_CONTAINERS) if needs is None else frozenset(needs)
    for need in wanted_services:
        if need not in SERVICE_CONTAINERS:
            raise ServiceMissing(need.value, "containers", "the compose stack has no such service")
    if env is None:
        env = fresh_secrets(read_env_file(TEMPLATES["local"]))
    unknown = sorted(set(override.unavailable) - set(services))
    if unknown:
        raise HarnessError(f"image override {override.source}: the compose file has no "
                           f"service {', '.join(unknown)}")
    offered = [need for need in wanted_services
               if needs is None or not set(SERVICE_CONTAINERS[need]) & set(override.unavailable)]
    wanted = [name for need in offered for name in SERVICE_CONTAINERS[need]]
    chosen = _closure(wanted, services, override.unavailable)
    compose_dir = Path(compose_file).resolve().parent
    containers = tuple(
        _spec(name, services[name], chosen, env, compose_dir, startup_timeout_s, override)
        for name in _start_order(chosen, services)
    )
    return StackPlan(needs=wanted_services, containers=containers, env=dict(env),
                     unavailable=dict(override.unavailable))


def endpoints(plan: StackPlan, mapped: Mapping[tuple[str, int], int],
              db_options: str = "") -> dict[Service, str]:
    """Base URLs (and the admin DSN for POSTGRES, with `db_options` as its query) from the
    host ports Docker mapped.

    `mapped[(container name, container port)] = host port`, all on 127.0.0.1.
    """
    found: dict[Service, str] = {}
    for service in plan.services:
        if service in GATEWAY_PATHS:
            port = mapped[("gateway", PUBLISHED["gateway"])]
            found[service] = f"http://{LOOPBACK}:{port}{GATEWAY_PATHS[service]}"
        elif service is Service.MAIL:
            found[service] = f"http://{LOOPBACK}:{mapped[('mail', PUBLISHED['mail'])]}"
        elif service is Service.POSTGRES:
            port = mapped[("db", int(plan.env["POSTGRES_PORT"]))]
            password = quote(plan.env["POSTGRES_PASSWORD"], safe="")
            found[service] = with_options(
                f"postgresql://supabase_admin:{password}@{LOOPBACK}:{port}/{plan.env['POSTGRES_DB']}",
                db_options)
    return found


# -- the engine -----------------------------------------------------------------------------


def engine_address(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def check_engine(address: str | None = None, timeout_s: float = ENGINE_CHECK_TIMEOUT_S) -> None:
    """Raise TargetUnavailable in at most ~timeout_s unless a Docker engine answers /_ping."""
    address = address or engine_address()
    hint = f"no Docker engine reachable at {address}: start dockerd or use --target local"
    parts = urlsplit(address)
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout_s)
            sock.connect(parts.path)
        elif parts.scheme in ("tcp", "http"):
            sock = socket.create_connection(
                (parts.hostname or LOOPBACK, parts.port or 2375), timeout_s
            )
        else:
            raise TargetUnavailable(f"{hint} (scheme '{parts.scheme}' is not checked here)")
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = sock.recv(256)
    except OSError as exc:
        raise TargetUnavailable(f"{hint} ({exc.strerror or type(exc).__name__})") from None
    if not answer.startswith(b"HTTP/") or b" 200 " not in answer.split(b"\r\n", 1)[0]:
        raise TargetUnavailable(f"{hint} (it did not answer the ping)")


class ContainersTarget(Target):
    """The compose stack's official images, started for this run through testcontainers.

    Constructor:
        ContainersTarget(needs=None, name="containers", env=None, compose_file=COMPOSE_FILE,
                         startup_timeout_s=180.0, engine=None, override=None)

    needs     the services the selected suites need (None: all the stack offers); the plan
              adds what they depend on (the database always brings the migrations, which
              need GoTrue and Storage to have created their tables).
    env       the stack's variables; default: the local template with a fresh JWT secret,
              API keys and database password for this run.
    engine    Docker address (default $DOCKER_HOST or the local socket): checked, then used.
    owned_engine  True when the engine is the harness's own (ops/docker_engine.py): Ryuk is
              then not started (stopping that engine ends everything it ran).
    override  local images for the official ones and the services without one
              (targets/image_override.py); default: the file $SOBERHARNESS_CONTAINERS_OVERRIDE
              names, else none.
    """

    kind = "containers"
    allows_destructive = True

    def __init__(
        self,
        needs: Iterable[Service] | None = None,
        name: str = "containers",
        env: Mapping[str, str] | None = None,
        compose_file: str | Path = COMPOSE_FILE,
        startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
        engine: str | None = None,
        override: ImageOverride | None = None,
        owned_engine: bool = False,
    ) -> None:
        self.name = name
        self.owned_engine = owned_engine
        self.labels = {"cloud": "none", "region": "docker"}
        self.override = override_from_environ() if override is None else override
        self.plan = plan_stack(needs, env, compose_file, startup_timeout_s, self.override)
        self._compose_file = Path(compose_file)
        self.engine = engine
        self._started: list[Any] = []  # testcontainers objects, in start order
        self._network: Any = None
        self._endpoints: dict[Service, str] = {}
        self._mapped: dict[tuple[str, int], int] = {}
        self._work: Path | None = None  # the run's own folder (the database's TLS)
        self._tls: DatabaseTls | None = None

    @property
    def services(self) -> frozenset[Service]:
        return self.plan.services

    @property
    def keys(self) -> Keys:
        return self.plan.keys

    def missing_reason(self, service: Service) -> str:
        return self.plan.why_missing(service)

    @property
    def settings(self) -> Mapping[str, str]:
        """The services' environment as the compose file sets it (no secrets: keys, passwords
        and URLs carrying them stay out)."""
        found: dict[str, str] = {}
        secrets = set(self.plan.keys.secrets()) | {self.plan.env.get("POSTGRES_PASSWORD", "")}
        for spec in self.plan.containers:
            for key, value in spec.env.items():
                if not any(secret and secret in value for secret in secrets):
                    found.setdefault(key, value)
        return found

    @property
    def settings_source(self) -> str:
        return f"compose env ({self._compose_file.name})"

    def url(self, service: Service) -> str:
        self.require(service)
        if service is Service.POSTGRES:
            raise ServiceMissing(service.value, self.name, "use admin_dsn() for the database")
        return self._endpoint(service)

    def admin_dsn(self, database: str | None = None) -> str:
        self.require(Service.POSTGRES)
        dsn = self._endpoint(Service.POSTGRES)
        if database:
            base, _, options = dsn.partition("?")
            dsn = with_options(base.rsplit("/", 1)[0] + "/" + quote(database, safe=""), options)
        return dsn

    def host_port(self, container: str, port: int) -> int:
        """The 127.0.0.1 port a started container's published `port` is mapped to."""
        if (container, port) not in self._mapped:
            raise HarnessError(f"target '{self.name}': {container}:{port} is not published")
        return self._mapped[(container, port)]

    def _endpoint(self, service: Service) -> str:
        if service not in self._endpoints:
            raise HarnessError(f"target '{self.name}' is not started")
        return self._endpoints[service]

    @property
    def _address(self) -> str:
        return self.engine or engine_address()

    def start(self) -> None:
        if self._endpoints:
            return
        check_engine(self._address)
        from soberharness.targets.lifecycle import register_cleanup

        register_cleanup(self.stop)
        try:
            self._start_all()
        except HarnessError:
            self.stop()
            raise
        except Exception as exc:  # docker / testcontainers errors -> one line
            self.stop()
            reason = redact(" ".join(str(exc).split())[:300], self.keys.secrets())
            raise TargetUnavailable(f"target '{self.name}': {reason}") from None

    def _start_all(self) -> None:
        from testcontainers.core.config import testcontainers_config
        from testcontainers.core.network import Network

        from soberharness.targets import container_start

        # Ryuk, testcontainers' reaper, removes the containers of a harness killed with
        # SIGKILL; it is an image from a registry. On an engine the harness owns (its own
        # dockerd, stopped with everything it started) it is not needed and not asked for;
        # elsewhere testcontainers' own setting decides (TESTCONTAINERS_RYUK_DISABLED).
        if self.owned_engine:
            testcontainers_config.ryuk_disabled = True
        client_kw = {"environment": {"DOCKER_HOST": self._address}}
        container_start.check_images(self.name, self._address, self.plan.containers,
                                     self.override.source)
        self._tls = self._database_tls()
        self._network = Network(docker_client_kw=client_kw).create()
        for spec in self.plan.containers:
            container = self._container(spec, client_kw)
            self._started.append(container)
            container_start.start_one(self.name, spec, container, self.keys.secrets())
            for port in self._ports(spec):
                self._mapped[(spec.name, port)] = int(container.get_exposed_port(port))
        self._endpoints = endpoints(self.plan, self._mapped,
                                    self._tls.dsn_options() if self._tls else "")

    def _database_tls(self) -> DatabaseTls | None:
        """The run's own certificate for the database, when the compose file mounts one."""
        db = next((spec for spec in self.plan.containers if spec.name == "db"), None)
        tls_source = str((self._compose_file.resolve().parent / TLS_SOURCE).resolve())
        if db is None or not any(host == tls_source for host, _, _ in db.binds):
            return None
        from soberharness.targets import container_start, workdirs

        uid = container_start.user_id(self.name, self._address, db, "postgres")
        self._work = workdirs.make_workdir()
        return make_database_tls(self._work, uid, self.name)

    def _ports(self, spec: ContainerSpec) -> list[int]:
        ports = list(spec.published)
        if spec.name == "db" and Service.POSTGRES in self.services:
            ports.append(int(self.plan.env["POSTGRES_PORT"]))
        return ports

    def _container(self, spec: ContainerSpec, client_kw: Mapping[str, Any]) -> Any:
        from testcontainers.core.container import DockerContainer

        container = DockerContainer(spec.image, docker_client_kw=dict(client_kw),
                                    env=dict(spec.env))
        if spec.command is not None:
            container.with_command(list(spec.command))
        substitutes = (self._tls.substitutes(self._compose_file.resolve().parent)
                       if self._tls else {})
        for host, target, mode in spec.binds:
            container.with_volume_mapping(substitutes.get(host, host), target, mode)
        for target in spec.scratch:
            container.with_tmpfs_mount(target)
        for port in self._ports(spec):
            # docker-py takes (ip,): a random host port, bound to 127.0.0.1 only.
            container.ports[f"{port}/tcp"] = (LOOPBACK,)  # type: ignore[assignment]
        container.with_network(self._network)
        container.with_network_aliases(spec.name, *spec.aliases)
        extra: dict[str, Any] = {"labels": {"org.sobertube.harness": self.name}}
        if spec.entrypoint is not None:
            extra["entrypoint"] = list(spec.entrypoint)
        if spec.healthcheck is not None:
            extra["healthcheck"] = dict(spec.healthcheck)
        container.with_kwargs(**extra)
        return container

    def stop(self) -> None:
        """Remove every container started (newest first) and the network. Safe to repeat."""
        while self._started:
            container = self._started.pop()
            with contextlib.suppress(Exception):  # already gone: keep removing the others
                container.stop()
        if self._network is not None:
            with contextlib.suppress(Exception):
                self._network.remove()
            self._network = None
        self._endpoints = {}
        self._mapped = {}
        self._tls = None
        if self._work is not None:
            from soberharness.targets import workdirs

            workdirs.remove_workdir(self._work)
            self._work = None

"""The `remote` target: a deployment somewhere else, named by a TOML target file.

The file gives labels, endpoint URLs and the names of environment variables holding the
secrets (never the secrets themselves); see docs/targets.md and
fixtures/targets/example-remote.toml. `load_target_file(path)` returns a RemoteTarget;
`start()` only checks that every offered service answers, within a bounded time.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from soberharness import services
from soberharness.db import session as db_session
from soberharness.errors import HarnessError, ServiceMissing, TargetUnavailable
from soberharness.targets.base import Deployment, Keys, Service, Target

CHECK_TIMEOUT_S = 5.0
# Services a target file can give a URL for (postgres comes from database_dsn_env).
URL_SERVICES: tuple[Service, ...] = (
    Service.REST,
    Service.AUTH,
    Service.REALTIME,
    Service.STORAGE,
    Service.FUNCTIONS,
    Service.MAIL,
)
# Where each service answers without side effects, relative to its base URL.
HEALTH_PATHS: Mapping[Service, str] = {
    service: services.BY_NAME[service.value].health_path or "/"
    for service in (Service.REST, Service.AUTH, Service.REALTIME, Service.STORAGE,
                    Service.FUNCTIONS, Service.MAIL)
}
# A gateway answering these means the service behind it is down.
UPSTREAM_DOWN = frozenset({502, 503, 504})

TOP_KEYS = frozenset(
    {"name", "kind", "cloud", "region", "labels", "capabilities", "urls", "secrets", "destructive",
     "settings", "database"}
)
# [database]: the TLS the harness's sessions must use, over whatever the DSN says.
DATABASE_KEYS = frozenset({"sslmode", "ca_file"})
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
VERIFYING = ("verify-ca", "verify-full")
SECRET_REFS = ("anon_key_env", "service_key_env", "jwt_secret_env", "database_dsn_env")
REQUIRED_SECRET_REFS = ("anon_key_env", "service_key_env")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# A path to a description file a setting names (GOTRUE_OPENAPI_SPEC): not a secret.
_FILE_PATH = re.compile(r"(~|\.{1,2})?/([\w.-]+/)*[\w.-]+\.(ya?ml|json|toml)")


class TargetFileError(HarnessError):
    """The target file is malformed; the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class RemoteConfig:
    """What a target file says, after validation (secrets not yet read)."""

    name: str
    cloud: str
    region: str
    urls: Mapping[Service, str]
    anon_key_env: str
    service_key_env: str
    jwt_secret_env: str | None = None
    database_dsn_env: str | None = None
    capabilities: frozenset[str] = frozenset()
    destructive_allowed: bool = False
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    settings: Mapping[str, str] = dataclasses.field(default_factory=dict)
    origin: str = "<target file>"
    database_sslmode: str | None = None
    database_ca_file: str | None = None


def _looks_secret(value: str) -> bool:
    """A JWT, or a long random-looking string: what an inline key or password looks like."""
    if _JWT_LIKE.search(value):
        return True
    compact = value.strip()
    return (
        len(compact) >= 24
        and " " not in compact
        and any(c.isdigit() for c in compact)
        and any(c.isalpha() for c in compact)
        and not compact.startswith(("http://", "https://", "ws://", "wss://"))
        and not _ENV_NAME.fullmatch(compact)
        and not _FILE_PATH.fullmatch(compact)
    )


def _check_url(origin: str, key: str, value: Any, service: Service) -> str:
    if not isinstance(value, str):
        raise TargetFileError(f"{origin}: urls.{key} must be a string URL")
    schemes = ("http", "https", "ws", "wss") if service is Service.REALTIME else ("http", "https")
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise TargetFileError(
            f"{origin}: urls.{key} = {value!r} is not a URL with scheme {'/'.join(schemes)}"
        )
    if parts.password is not None or _JWT_LIKE.search(value) or "apikey=" in value.lower():
        raise TargetFileError(
            f"{origin}: urls.{key} carries a credential; put secrets in environment variables"
        )
    return value.rstrip("/")


def parse_target_config(data: Mapping[str, Any], origin: str = "<target file>") -> RemoteConfig:
    """Validate a parsed target file; raise TargetFileError with one line on a problem."""
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise TargetFileError(
            f"{origin}: unknown key(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(TOP_KEYS))})"
        )
    kind = data.get("kind", "remote")
    if kind != "remote":
        raise TargetFileError(f"{origin}: kind = {kind!r}; a target file describes kind 'remote'")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TargetFileError(f"{origin}: name must be lowercase letters, digits, '.', '_' or '-'")
    labels_in = data.get("labels", {})
    if not isinstance(labels_in, Mapping) or not all(
        isinstance(v, str) for v in labels_in.values()
    ):
        raise TargetFileError(f"{origin}: labels must be a table of strings")
    for key in ("cloud", "region"):
        if not isinstance(data.get(key, ""), str):
            raise TargetFileError(f"{origin}: {key} must be a string")

    urls_in = data.get("urls", {})
    if not isinstance(urls_in, Mapping):
        raise TargetFileError(f"{origin}: [urls] must be a table")
    by_name = {s.value: s for s in URL_SERVICES}
    urls: dict[Service, str] = {}
    for key, value in urls_in.items():
        if key not in by_name:
            raise TargetFileError(
                f"{origin}: urls.{key}: unknown service (known: {', '.join(by_name)})"
            )
        urls[by_name[key]] = _check_url(origin, key, value, by_name[key])

    secrets_in = data.get("secrets", {})
    if not isinstance(secrets_in, Mapping):
        raise TargetFileError(f"{origin}: [secrets] must be a table")
    for key, value in secrets_in.items():
        if key not in SECRET_REFS:
            hint = " (secrets are given as *_env references)" if isinstance(value, str) else ""
            raise TargetFileError(f"{origin}: secrets.{key}: unknown key{hint}")
        if not isinstance(value, str):
            raise TargetFileError(f"{origin}: secrets.{key} must name an environment variable")
        if not _ENV_NAME.fullmatch(value):
            what = "an inline secret" if _looks_secret(value) or "://" in value else "not a name"
            raise TargetFileError(
                f"{origin}: secrets.{key} must name an environment variable "
                f"(UPPER_CASE), got {what}"
            )
    refs = {key: secrets_in.get(key) for key in SECRET_REFS}
    if urls:
        for key in REQUIRED_SECRET_REFS:
            if not refs[key]:
                raise TargetFileError(f"{origin}: secrets.{key} is required when [urls] are given")

    # Anything else in the file that looks like a key or password is refused too.
    for key in ("cloud", "region", "name"):
        if isinstance(data.get(key), str) and _looks_secret(data[key]):
            raise TargetFileError(f"{origin}: {key} looks like a secret; secrets go in env vars")
    for key, value in labels_in.items():
        if _looks_secret(value):
            raise TargetFileError(f"{origin}: labels.{key} looks like a secret")

    caps_in = data.get("capabilities", [])
    if not isinstance(caps_in, list) or not all(isinstance(c, str) for c in caps_in):
        raise TargetFileError(f"{origin}: capabilities must be a list of strings")
    offered = {s.value for s in urls} | (
        {Service.POSTGRES.value} if refs["database_dsn_env"] else set()
    )
    if Service.STORAGE in urls:
        offered.add(Service.IMAGE_TRANSFORMATION.value)
    all_services = {s.value for s in Service}
    for cap in caps_in:
        if cap in all_services and cap not in offered:
            source = {Service.POSTGRES.value: "database_dsn_env",
                      Service.IMAGE_TRANSFORMATION.value: "urls.storage"}.get(cap, f"urls.{cap}")
            raise TargetFileError(f"{origin}: capability '{cap}' listed without {source}")

    destructive = data.get("destructive", {})
    if not isinstance(destructive, Mapping) or set(destructive) - {"allowed"}:
        raise TargetFileError(f"{origin}: [destructive] takes only `allowed = true|false`")
    allowed = destructive.get("allowed", False)
    if not isinstance(allowed, bool):
        raise TargetFileError(f"{origin}: destructive.allowed must be true or false")

    settings_in = data.get("settings", {})
    if not isinstance(settings_in, Mapping):
        raise TargetFileError(f"{origin}: [settings] must be a table")
    settings: dict[str, str] = {}
    for key, value in settings_in.items():
        if not _ENV_NAME.fullmatch(key) or isinstance(value, (Mapping, list)):
            raise TargetFileError(f"{origin}: settings.{key} must be NAME = value (a service's "
                                  "environment variable and its value)")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if _looks_secret(text):
            raise TargetFileError(f"{origin}: settings.{key} looks like a secret; secrets go "
                                  "in env vars")
        settings[key] = text

    sslmode, ca_file = _database_tls(data.get("database", {}), origin,
                                     bool(refs["database_dsn_env"]))
    return RemoteConfig(
        name=name,
        cloud=data.get("cloud", "unknown"),
        region=data.get("region", "unknown"),
        urls=urls,
        anon_key_env=refs["anon_key_env"] or "",
        service_key_env=refs["service_key_env"] or "",
        jwt_secret_env=refs["jwt_secret_env"],
        database_dsn_env=refs["database_dsn_env"],
        capabilities=frozenset(caps_in),
        destructive_allowed=allowed,
        labels=dict(labels_in),
        settings=settings,
        origin=origin,
        database_sslmode=sslmode,
        database_ca_file=ca_file,
    )


def _database_tls(table: Any, origin: str, has_dsn: bool) -> tuple[str | None, str | None]:
    """[database] sslmode and ca_file (a path relative to the target file's folder), checked."""
    if not isinstance(table, Mapping):
        raise TargetFileError(f"{origin}: [database] must be a table")
    if not table:
        return None, None
    unknown = sorted(set(table) - DATABASE_KEYS)
    if unknown:
        raise TargetFileError(f"{origin}: [database] takes only sslmode and ca_file, not "
                              f"{', '.join(unknown)}")
    if not has_dsn:
        raise TargetFileError(f"{origin}: [database] given without secrets.database_dsn_env")
    sslmode = table.get("sslmode")
    if sslmode is not None and sslmode not in SSLMODES:
        raise TargetFileError(f"{origin}: database.sslmode = {sslmode!r}; one of "
                              f"{', '.join(SSLMODES)}")
    ca_file = table.get("ca_file")
    if ca_file is None:
        return sslmode, None
    if not isinstance(ca_file, str) or not ca_file:
        raise TargetFileError(f"{origin}: database.ca_file must be the path of a CA certificate")
    if sslmode not in VERIFYING:
        raise TargetFileError(f"{origin}: database.ca_file needs sslmode verify-ca or "
                              "verify-full (other modes do not verify the server)")
    path = Path(ca_file).expanduser()
    if not path.is_absolute() and not origin.startswith("<"):
        path = Path(origin).parent / path
    return sslmode, str(path)


def _describe_dsn(dsn: str) -> str:
    """host:port/dbname of a DSN, without user or password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparsable DSN>"
    host = parts.get("host") or "localhost"
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


def _health_url(base: str, service: Service) -> str:
    parts = urlsplit(base + HEALTH_PATHS[service])
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


class RemoteTarget(Target, Deployment):
    """A deployment the harness does not manage: it checks it, never starts or stops it."""

    kind = "remote"

    def __init__(self, config: RemoteConfig, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.name = config.name
        self.labels = {"cloud": config.cloud, "region": config.region, **config.labels}
        self.allows_destructive = config.destructive_allowed
        self._environ = os.environ if environ is None else environ
        self._keys: Keys | None = None
        self._started = False

    # -- what the file says --------------------------------------------------------------
    @property
    def services(self) -> frozenset[Service]:
        offered = set(self.config.urls)
        if self.config.database_dsn_env:
            offered.add(Service.POSTGRES)
        if (Service.IMAGE_TRANSFORMATION.value in self.config.capabilities
                and Service.STORAGE in offered):
            offered.add(Service.IMAGE_TRANSFORMATION)
        return frozenset(offered)

    @property
    def settings(self) -> Mapping[str, str]:
        return self.config.settings

    @property
    def settings_source(self) -> str:
        return f"target file {self.config.origin} [settings]"

    @property
    def capabilities(self) -> frozenset[str]:
        """Free-form features the deployment declares, plus the services it offers."""
        return self.config.capabilities | {s.value for s in self.services}

    def describe(self) -> str:
        """One line for --list-targets."""
        services = ", ".join(sorted(s.value for s in self.services)) or "none"
        destructive = "allowed with confirmation" if self.allows_destructive else "refused"
        return (
            f"{self.name} (remote, {self.config.cloud}/{self.config.region}, "
            f"{self.config.origin}): {services}; destructive suites {destructive}"
        )

    # -- secrets, read from the environment when first needed ------------------------------
    def _env(self, ref_key: str, ref: str | None, required: bool) -> str | None:
        if not ref:
            return None
        value = self._environ.get(ref)
        if not value:
            if required:
                raise TargetUnavailable(
                    f"target '{self.name}': environment variable {ref} ({ref_key} in "
                    f"{self.config.origin}) is not set"
                )
            return None
        return value

    @property
    def keys(self) -> Keys:
        if self._keys is None:
            c = self.config
            anon_key = self._env("anon_key_env", c.anon_key_env, required=bool(c.urls))
            service_key = self._env("service_key_env", c.service_key_env, required=bool(c.urls))
            jwt_secret = self._env("jwt_secret_env", c.jwt_secret_env, required=True)
            self._keys = Keys(jwt_secret=jwt_secret, anon_key=anon_key, service_key=service_key)
        return self._keys

    def _dsn(self) -> str:
        """The DSN from the environment, with the file's [database] TLS over its own."""
        dsn = self._env("database_dsn_env", self.config.database_dsn_env, required=True)
        if dsn is None:
            raise ServiceMissing(
                Service.POSTGRES.value, self.name, "no database_dsn_env in its file"
            )
        tls = {"sslmode": self.config.database_sslmode,
               "sslrootcert": self.config.database_ca_file}
        tls = {key: value for key, value in tls.items() if value}
        if not tls:
            return dsn
        try:
            return make_conninfo(dsn, **tls)
        except psycopg.ProgrammingError:
            raise TargetUnavailable(f"target '{self.name}': the DSN in "
                                    f"{self.config.database_dsn_env} does not parse") from None

    # -- Target contract ---------------------------------------------------------------------
    def url(self, service: Service) -> str:
        self.require(service)
        if service not in self.config.urls:
            raise ServiceMissing(service.value, self.name, "it has no URL")
        return self.config.urls[service]

    def admin_dsn(self, database: str | None = None) -> str:
        self.require(Service.POSTGRES)
        dsn = self._dsn()
        return make_conninfo(dsn, dbname=database) if database else dsn

    def start(self) -> None:
        """Check every offered service answers; raise TargetUnavailable naming those that don't."""
        if self._started:
            return
        keys = self.keys  # missing environment variables are reported first
        checks: dict[str, concurrent.futures.Future[str | None]] = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(self.services) or 1) as pool:
            for service in URL_SERVICES:
                if service in self.config.urls:
                    checks[service.value] = pool.submit(self._check_http, service, keys)
            if Service.POSTGRES in self.services:
                checks[Service.POSTGRES.value] = pool.submit(self._check_database)
            failures = [msg for f in checks.values() if (msg := f.result()) is not None]
        if failures:
            raise TargetUnavailable(f"target '{self.name}': " + "; ".join(failures))
        self._started = True

    def stop(self) -> None:
        # Nothing was started; data clean-up is the plugin's business (run id).
        self._started = False

    # -- reachability ------------------------------------------------------------------------
    def _check_http(self, service: Service, keys: Keys) -> str | None:
        base = self.config.urls[service]
        url = _health_url(base, service)
        headers = {}
        if keys.anon_key and service is not Service.MAIL:
            headers = {"apikey": keys.anon_key, "Authorization": f"Bearer {keys.anon_key}"}
        try:
            with httpx.Client(timeout=httpx.Timeout(CHECK_TIMEOUT_S), follow_redirects=False) as c:
                response = c.get(url, headers=headers)
        except httpx.TimeoutException:
            return f"{service.value} at {base}: no answer within {CHECK_TIMEOUT_S:g} s"
        except httpx.HTTPError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return f"{service.value} at {base}: unreachable ({reason})"
        if response.status_code in UPSTREAM_DOWN:
            return (
                f"{service.value} at {base}: gateway answers {response.status_code}, service down"
            )
        return None

    def _check_database(self) -> str | None:
        dsn = self._dsn()
        where = _describe_dsn(dsn)
        try:
            with db_session.connect(dsn, connect_timeout=int(CHECK_TIMEOUT_S)) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            return f"postgres at {where}: {reason}"
        return None


def load_target_file(path: str | Path, environ: Mapping[str, str] | None = None) -> RemoteTarget:
    """Read and validate a TOML target file; secrets are read from `environ` when used."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TargetFileError(f"cannot read target file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise TargetFileError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}): "
                              "a target file is TOML, saved as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetFileError(f"{path}: not valid TOML: {exc}") from None
    return RemoteTarget(parse_target_config(data, origin=str(path)), environ=environ)

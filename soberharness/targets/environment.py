"""What a target runs, as far as it tells: enough to explain why two targets behave differently.

`probe_environment(target, migrations)` returns a JSON-able mapping, recorded in every run's
summary.json (`environment`) and compared by `python -m soberharness.parity`:

- `postgres`: server version, the app database's extensions and versions, its collation and
  encoding, behaviour-changing settings (timeouts, max_connections, isolation, ...), the
  per-role settings PostgREST's roles carry (`alter role authenticated set statement_timeout`),
  and the migrations the database records as applied (supabase_migrations), when it does;
- `services`: per HTTP service, its version where its health endpoint or `Server` header says;
  GoTrue's public `/settings` (signup, autoconfirm, providers);
- `auth_config`: JWT expiry and rate limits where the target knows its own configuration
  (the containers target's stack variables, `ContainersTarget.env`); a remote GoTrue does
  not publish them;
- `migrations`: the folder's migration names (the stack version) and a digest of their text.

Every probe is bounded by a timeout; a probe that fails is recorded as `{"error": "..."}`
(one line, never a secret), never raised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import psycopg

from soberharness import services
from soberharness.db import session as db_session
from soberharness.errors import HarnessError
from soberharness.targets.base import Service, Target
from soberharness.targets.migrations import discover

PROBE_TIMEOUT_S = 5.0
SETTINGS = (
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "max_connections",
    "default_transaction_isolation",
    "default_transaction_read_only",
    "row_security",
    "password_encryption",
    "timezone",
    "datestyle",
    "jit",
    "max_locks_per_transaction",
    "synchronous_commit",
    "fsync",
)
ROLES = ("anon", "authenticated", "service_role", "authenticator")
# Stack variables (stack/env/*.env.example) that change what a client sees.
AUTH_CONFIG_KEYS = (
    "JWT_EXPIRY",
    "DISABLE_SIGNUP",
    "ENABLE_EMAIL_AUTOCONFIRM",
    "ENABLE_EMAIL_SIGNUP",
    "ENABLE_ANONYMOUS_USERS",
    "GOTRUE_RATE_LIMIT_EMAIL_SENT",
    "GOTRUE_RATE_LIMIT_TOKEN_REFRESH",
    "GOTRUE_RATE_LIMIT_VERIFY",
    "PGRST_DB_MAX_ROWS",
    "PGRST_DB_SCHEMAS",
)


def probe_environment(target: Target, migrations: Path | None = None) -> dict[str, Any]:
    env: dict[str, Any] = {}
    if migrations is not None:
        env["migrations"] = migrations_version(migrations)
    if Service.POSTGRES in target.services:
        env["postgres"] = _guarded(lambda: postgres_environment(target.admin_dsn()))
    services: dict[str, Any] = {}
    for service in (Service.AUTH, Service.REST, Service.STORAGE, Service.REALTIME,
                    Service.FUNCTIONS):
        if service in target.services:
            services[service.value] = _guarded(lambda s=service: _http_version(target, s))
    if services:
        env["services"] = services
    stack_env = getattr(target, "env", None) if target.kind == "containers" else None
    if isinstance(stack_env, Mapping):
        env["auth_config"] = {k: str(stack_env[k]) for k in AUTH_CONFIG_KEYS if k in stack_env}
    return env


def migrations_version(folder: Path) -> dict[str, Any]:
    """The migration names (the stack version two runs must share) and a digest of their SQL."""
    try:
        found = discover(folder)
    except (HarnessError, OSError) as exc:  # a bad folder already stopped the run elsewhere
        return {"error": _line(exc)}
    digest = hashlib.sha256()
    for migration in found:
        digest.update(migration.name.encode() + b"\0" + migration.up.read_bytes())
    return {"names": [m.name for m in found], "digest": digest.hexdigest()[:16]}


def postgres_environment(dsn: str) -> dict[str, Any]:
    with db_session.connect(dsn, connect_timeout=int(PROBE_TIMEOUT_S), autocommit=True) as conn:
        def rows(sql: str, *args: Any) -> list[tuple[Any, ...]]:
            return conn.execute(sql, args or None).fetchall()

        # The settings first: the probe's own statement_timeout below must not show in them
        # (nor the session's, db/session.py: reset_val is the value before any SET).
        settings = dict(rows("select name, reset_val || coalesce(unit, '') from pg_settings "
                             "where name = any(%s) order by name", list(SETTINGS)))
        conn.execute(f"set statement_timeout = '{int(PROBE_TIMEOUT_S)}s'")
        version = rows("select current_setting('server_version'), "
                       "current_setting('server_version_num')::int")[0]
        database = rows("select pg_encoding_to_char(encoding), datcollate, datctype, "
                        "datlocprovider::text from pg_database "
                        "where datname = current_database()")[0]
        # Per role: its settings for every database, then this database's (which win).
        role_settings: dict[str, dict[str, str]] = {}
        for role, config in rows(
                "select r.rolname, s.setconfig from pg_roles r left join pg_db_role_setting s "
                "on s.setrole = r.oid and s.setdatabase in (0, "
                "(select oid from pg_database where datname = current_database())) "
                "where r.rolname = any(%s) order by r.rolname, s.setdatabase", list(ROLES)):
            merged = role_settings.setdefault(role, {})
            for item in config or []:
                key, _, value = item.partition("=")
                merged[key] = value
        applied = None
        if rows("select to_regclass('supabase_migrations.schema_migrations')")[0][0]:
            applied = [str(v) for (v,) in rows(
                "select version from supabase_migrations.schema_migrations order by version")]
        return {
            "server_version": version[0],
            "server_version_num": version[1],
            "extensions": dict(rows("select extname, extversion from pg_extension "
                                    "order by extname")),
            "encoding": database[0],
            "collate": database[1],
            "ctype": database[2],
            "locale_provider": {"c": "libc", "i": "icu", "b": "builtin"}.get(database[3],
                                                                            database[3]),
            "settings": settings,
            "role_settings": {role: [f"{k}={v}" for k, v in sorted(merged.items())]
                              for role, merged in role_settings.items()},
            "applied_migrations": applied,
        }


def _http_version(target: Target, service: Service) -> dict[str, Any]:
    base = target.url(service).rstrip("/")
    keys = target.keys
    headers = {"apikey": keys.anon_key} if keys.anon_key else {}
    if keys.anon_key:
        headers["authorization"] = f"Bearer {keys.anon_key}"
    # GoTrue and the Storage API tell their version at their health path, the others at "/".
    path = (services.BY_NAME[service.value].health_path or "/"
            if service in (Service.AUTH, Service.STORAGE) else "/")
    if service is Service.REALTIME:
        base = base.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
        path = "/api/ping" if base.endswith("/socket") else "/"
    out: dict[str, Any] = {}
    with httpx.Client(timeout=PROBE_TIMEOUT_S, headers=headers, follow_redirects=False) as http:
        response = http.get(base + path)
        out["status"] = response.status_code
        if server := response.headers.get("server"):
            out["server"] = server[:80]
        body = _json(response)
        if isinstance(body, dict):
            for key in ("version", "name"):
                if isinstance(body.get(key), str):
                    out[key] = body[key][:80]
            info = body.get("info")
            if isinstance(info, dict) and isinstance(info.get("version"), str):
                out["version"] = info["version"][:80]  # PostgREST's OpenAPI document
        if service is Service.AUTH:
            settings = _json(http.get(base + "/settings"))
            if isinstance(settings, dict):
                out["settings"] = {k: v for k, v in sorted(settings.items())
                                   if isinstance(v, bool | int | str | dict)}
    return out


def _json(response: httpx.Response) -> Any:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _guarded(probe: Any) -> dict[str, Any]:
    try:
        return probe()
    except (psycopg.Error, httpx.HTTPError, OSError, ValueError) as exc:
        return {"error": _line(exc)}


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}"

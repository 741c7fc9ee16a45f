"""The local target seen as a remote one: a target file plus the environment it names.

`python -m soberharness.targets.expose FILE [--storage-url URL ...]` starts a local target,
writes a complete remote target file for it at FILE (the database, plus the URLs of services
you run yourself against that database, the capabilities they make, and `[settings]`), writes
the variables the file refers to into an env file beside it (`KEY=value` lines, one per
variable, that survive both `export $(cat FILE.env)` and `set -a; . FILE.env; set +a`), prints
the same as `export` lines, and keeps the stack up until Ctrl-C. Suites then run through the
remote code path:

    .venv/bin/pytest suites/security --target FILE

How to point GoTrue, the Storage API, PostgREST or Realtime at the exposed database:
docs/targets.md, "Exposing the local target".
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import re
import signal
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict

from soberharness.db.claims import sign
from soberharness.errors import Exit, HarnessError, OneLineParser
from soberharness.targets.base import Service
from soberharness.targets.lifecycle import register_cleanup, run_cleanups
from soberharness.targets.local import LocalTarget
from soberharness.targets.remote import URL_SERVICES, TargetFileError, parse_target_config
from soberharness.world.entities import Viewer

ENV_DSN = "SOBER_EXPOSED_DATABASE_URL"
ENV_JWT = "SOBER_EXPOSED_JWT_SECRET"
ENV_ANON = "SOBER_EXPOSED_ANON_KEY"
ENV_SERVICE = "SOBER_EXPOSED_SERVICE_ROLE_KEY"
# The login roles the services connect as (stack/bootstrap/00_roles.sql); printed as hints.
SERVICE_LOGINS: Mapping[str, str] = {
    "GoTrue (GOTRUE_DB_DATABASE_URL)": "supabase_auth_admin",
    "Storage API (DATABASE_URL)": "supabase_storage_admin",
    "PostgREST (PGRST_DB_URI)": "authenticator",
    "Realtime (DB_USER)": "supabase_admin",
}
# Characters a value may hold to be written bare: no whitespace, quotes, `$`, `#`, `;`, ...
_SHELL_SAFE = re.compile(r"[A-Za-z0-9_.,:/@%+=?&~-]+")
_SETTING = re.compile(r"([A-Z_][A-Z0-9_]*)=(.*)", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class ExposeOptions:
    """What the target file says besides the database: services run elsewhere, settings."""

    name: str = "local-exposed"
    urls: Mapping[Service, str] = dataclasses.field(default_factory=dict)
    image_transformation: bool = False
    settings: Mapping[str, str] = dataclasses.field(default_factory=dict)


def url_dsn(conninfo: str) -> str:
    """The same connection as a `postgresql://` URL, every part percent-encoded."""
    parts = {k: v for k, v in conninfo_to_dict(conninfo).items() if v is not None}
    user = quote(str(parts.pop("user", "")), safe="")
    password = parts.pop("password", None)
    auth = user + (f":{quote(str(password), safe='')}" if password is not None else "")
    host = str(parts.pop("host", ""))
    if host.startswith("/") or "," in host:  # a socket folder or several hosts: a parameter
        parts["host"] = host
        host = ""
    elif ":" in host:
        host = f"[{host}]"  # IPv6
    port = parts.pop("port", None)
    netloc = (f"{auth}@" if auth else "") + host + (f":{port}" if port and host else "")
    if port and not host:
        parts["port"] = port
    path = quote(str(parts.pop("dbname", "")), safe="")
    query = "&".join(f"{quote(k, safe='')}={quote(str(v), safe='')}"
                     for k, v in sorted(parts.items()))
    return f"postgresql://{netloc}/{path}" + (f"?{query}" if query else "")


def exposed_env(target: LocalTarget) -> dict[str, str]:
    """The environment variables a file from `target_file_text` refers to."""
    secret = target.keys.jwt_secret or ""
    return {
        ENV_DSN: url_dsn(target.admin_dsn()),
        ENV_JWT: secret,
        ENV_ANON: sign({"role": Viewer.anon().role.value, "iss": "soberharness"}, secret),
        ENV_SERVICE: sign({"role": Viewer.service().role.value, "iss": "soberharness"}, secret),
    }


def capabilities(options: ExposeOptions) -> list[str]:
    """postgres, every service given a URL (in URL_SERVICES order), image-transformation."""
    caps = [Service.POSTGRES.value] + [s.value for s in URL_SERVICES if s in options.urls]
    if options.image_transformation:
        caps.append(Service.IMAGE_TRANSFORMATION.value)
    return caps


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def target_file_text(options: ExposeOptions) -> str:
    """The target file; raises TargetFileError (one line) when it would not load."""
    lines = [
        "# The local target, exposed as a remote one (soberharness.targets.expose).",
        f"name = {_toml_string(options.name)}",
        'cloud = "none"',
        'region = "this-machine"',
        f"capabilities = [{', '.join(_toml_string(c) for c in capabilities(options))}]",
        "",
    ]
    if options.urls:
        lines.append("[urls]")
        lines += [f"{s.value} = {_toml_string(options.urls[s])}"
                  for s in URL_SERVICES if s in options.urls]
        lines.append("")
    lines += [
        "[secrets]",
        f'anon_key_env = "{ENV_ANON}"',
        f'service_key_env = "{ENV_SERVICE}"',
        f'jwt_secret_env = "{ENV_JWT}"',
        f'database_dsn_env = "{ENV_DSN}"',
        "",
    ]
    if options.settings:
        lines.append("[settings]")
        lines += [f"{k} = {_toml_string(v)}" for k, v in sorted(options.settings.items())]
        lines.append("")
    lines += ["[destructive]", "allowed = false", ""]
    text = "\n".join(lines)
    parse_target_config(tomllib.loads(text), origin="expose")  # refuse what would not load
    return text


def exposed(target: LocalTarget, name: str = "local-exposed",
            options: ExposeOptions | None = None) -> tuple[str, dict[str, str]]:
    """The target file's text and the environment variables it refers to."""
    options = options or ExposeOptions(name=name)
    return target_file_text(options), exposed_env(target)


def env_line(key: str, value: str) -> str:
    """`KEY=value`, bare when word splitting cannot break it, else single-quoted."""
    if _SHELL_SAFE.fullmatch(value):
        return f"{key}={value}"
    return f"{key}='" + value.replace("'", "'\\''") + "'"


def env_file_text(env: Mapping[str, str]) -> str:
    return "".join(env_line(k, v) + "\n" for k, v in env.items())


def service_dsns(target: LocalTarget) -> dict[str, str]:
    """Per service you run yourself, the URL it connects with (the server trusts loopback)."""
    admin = conninfo_to_dict(target.admin_dsn())
    return {service: url_dsn(f"host={admin['host']} port={admin['port']} "
                             f"dbname={admin['dbname']} user={login}")
            for service, login in SERVICE_LOGINS.items()}


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by this user only (it holds the keys)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)


def parse_setting(text: str) -> tuple[str, str]:
    """`KEY=VALUE` from --setting; raises ValueError with the reason."""
    match = _SETTING.fullmatch(text)
    if not match:
        raise ValueError(f"--setting {text!r}: expected NAME=VALUE with NAME in UPPER_CASE")
    return match[1], match[2]


def options_from_args(args: argparse.Namespace) -> ExposeOptions:
    urls = {service: getattr(args, f"{service.value}_url") for service in URL_SERVICES}
    settings = dict(parse_setting(s) for s in args.setting)
    options = ExposeOptions(
        name=args.name,
        urls={s: u for s, u in urls.items() if u},
        image_transformation=args.image_transformation,
        settings=settings,
    )
    target_file_text(options)
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m soberharness.targets.expose",
        description="Expose a local target as a remote target file")
    parser.add_argument("file", type=Path, help="where to write the target file (.toml)")
    parser.add_argument("--name", default="local-exposed")
    parser.add_argument("--env-file", type=Path, default=None,
                        help="where to write the variables (default: FILE with suffix .env); "
                             "removed when the stack stops")
    for service in URL_SERVICES:
        parser.add_argument(f"--{service.value}-url", metavar="URL", default=None,
                            help=f"base URL of a {service.value} service you run against the "
                                 "exposed database")
    parser.add_argument("--image-transformation", action="store_true",
                        help="the Storage API behind --storage-url renders images (imgproxy)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a service setting the suites may read (repeatable), e.g. "
                             "GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL=10")
    return parser


def run(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = options_from_args(args)
    except (ValueError, TargetFileError) as exc:
        parser.error(str(exc))
    env_path: Path = args.env_file or args.file.with_suffix(".env")
    if env_path.resolve() == args.file.resolve():
        parser.error(f"the env file would overwrite the target file {args.file}: "
                     "give --env-file or a FILE ending in .toml")
    forget_env = functools.partial(env_path.unlink, missing_ok=True)
    target = LocalTarget()
    try:
        target.start()
        text, env = exposed(target, options=options)
        args.file.write_text(text)
        register_cleanup(forget_env)  # SIGTERM/SIGHUP too: the keys die with the stack
        _write_private(env_path, env_file_text(env))
        print(f"# target file written to {args.file}, its variables to {env_path}; "
              "in another shell:")
        print(f"#   export $(cat {env_path})    or:")
        for key, value in env.items():
            print(f"export {env_line(key, value)}")
        for service, dsn in service_dsns(target).items():
            print(f"# {service}: {dsn}")
        print(f"# .venv/bin/pytest suites/security --target {args.file}")
        print("# Ctrl-C stops the stack.", flush=True)
        signal.pause()
    except HarnessError as exc:
        print(f"expose: {exc}", file=sys.stderr)
        raise SystemExit(Exit.BAD_INPUT) from None
    except KeyboardInterrupt:
        pass
    finally:
        target.stop()
        run_cleanups()


def main() -> None:
    run()


if __name__ == "__main__":
    main()

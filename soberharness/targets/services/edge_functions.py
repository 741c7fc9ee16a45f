"""SoberTube's edge functions served for real: Deno runs `stack/functions/main/index.ts`, the
main service that routes /<name> to `stack/functions/<name>/index.ts` (as the edge runtime's
main service does), against a database of the harness's choosing.

Deno runs in a work folder without a `package.json` (it would look for `node_modules` there);
its npm cache is Deno's default (DENO_DIR, else ~/.cache/deno), so the PostgreSQL client
(`npm:postgres`) is fetched once per machine.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict

from soberharness.errors import TargetUnavailable
from soberharness.targets.services.process import ManagedProcess, free_port, http_ready
from soberharness.targets.services.tools import find_tool, missing_reason

HOST = "127.0.0.1"
STACK_FUNCTIONS = Path(__file__).resolve().parents[3] / "stack" / "functions"
READY_TIMEOUT = 60.0  # the first start on a machine fetches npm:postgres


@dataclasses.dataclass(frozen=True)
class FunctionsLimits:
    """The main service's limits (its FUNCTIONS_* environment variables)."""

    max_body_bytes: int = 1_048_576
    wall_time_ms: int = 10_000
    deletion_grace_days: int = 7

    def env(self) -> dict[str, str]:
        return {
            "FUNCTIONS_MAX_BODY_BYTES": str(self.max_body_bytes),
            "FUNCTIONS_WALL_TIME_MS": str(self.wall_time_ms),
            "FUNCTIONS_DELETION_GRACE_DAYS": str(self.deletion_grace_days),
        }


def db_url(host: str, port: int, database: str, user: str) -> str:
    """A postgres:// URL for the functions' SUPABASE_DB_URL (no password: trust on loopback)."""
    return f"postgres://{quote(user)}@{host}:{port}/{quote(database)}"


def deno_available() -> bool:
    return find_tool("deno") is not None


def start_functions(
    workdir: Path,
    database_url: str,
    jwt_secret: str,
    *,
    functions_dir: Path = STACK_FUNCTIONS,
    limits: FunctionsLimits = FunctionsLimits(),
    extra_env: Mapping[str, str] | None = None,
    name: str = "functions",
) -> tuple[ManagedProcess, str]:
    """Start the main service on 127.0.0.1 (a free port); returns the process and its URL.

    Its permissions: network to 127.0.0.1 only, environment, and reading the functions folder.
    """
    deno = find_tool("deno")
    if deno is None:
        raise TargetUnavailable(missing_reason("deno"))
    functions_dir = functions_dir.resolve()
    main = functions_dir / "main" / "index.ts"
    if not main.is_file():
        raise TargetUnavailable(f"no main service at {main}")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        str(deno), "run", "--no-prompt", f"--allow-net={HOST}", "--allow-env",
        f"--allow-read={functions_dir}", str(main),
    ]
    env = {
        "DENO_NO_UPDATE_CHECK": "1",
        "NO_COLOR": "1",
        "HOST": HOST,
        "PORT": str(port),
        "JWT_SECRET": jwt_secret,
        "SUPABASE_DB_URL": database_url,
        **limits.env(),
        **(extra_env or {}),
    }
    url = f"http://{HOST}:{port}"
    process = ManagedProcess(
        name, argv, env=env, log_path=workdir / f"{name}.log",
        ready=http_ready(url + "/"), ready_timeout=READY_TIMEOUT, cwd=workdir,
    )
    process.start()
    return process, url


def copy_with_change(dst: Path, function: str, old: str, new: str,
                     src: Path = STACK_FUNCTIONS) -> Path:
    """A copy of the functions folder in `dst` where `function`'s index.ts has `old` replaced
    by `new` (a planted defect, served by `start_functions(functions_dir=...)`)."""
    if src.resolve() != dst.resolve():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    path = dst / function / "index.ts"
    text = path.read_text()
    if old not in text:
        raise ValueError(f"{function}/index.ts holds no {old!r} to change")
    path.write_text(text.replace(old, new))
    return dst


def db_url_of(dsn: str) -> str:
    """The postgres:// URL of a libpq key=value DSN (host, port, dbname, user)."""
    parts = conninfo_to_dict(dsn)
    return db_url(str(parts.get("host", HOST)), int(parts.get("port", 5432)),
                  str(parts["dbname"]), str(parts.get("user", "postgres")))

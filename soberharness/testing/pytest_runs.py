"""Helpers for selftests that run pytest with the harness's plugin as a person would: in a
subprocess, on tiny test modules in a temporary folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the checkout

# This session's own database as a remote target offering only `postgres`: reachable, and
# quick to check (the run under test starts no server of its own).
DATABASE_ONLY_TARGET = """
name = "database-only"
[secrets]
database_dsn_env = "OUTER_DSN"
"""


def pytest_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "soberharness.pytest_plugin",
            "-p", "no:cacheprovider", "-q", *args]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SOBERHARNESS_", "PYTEST_", "SOBER_STAGING_"))}
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o755)
    return env | {"TMPDIR": str(tmp), "PYTHONPATH": str(REPO)} | extra


def run_pytest(tmp_path: Path, *args: str, timeout: float = 180,
               **env: str) -> tuple[int, str, float]:
    """(exit status, stdout + stderr, seconds) of pytest in tmp_path."""
    began = time.monotonic()
    done = subprocess.run(pytest_argv("--report-dir", str(tmp_path / "reports" / "latest"),
                                      *args),
                          cwd=tmp_path, env=clean_env(tmp_path, **env), capture_output=True,
                          text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - began


def run_summary(tmp_path: Path) -> dict:
    found = list((tmp_path / "reports" / "runs").glob("*/summary.json"))
    assert len(found) == 1, f"expected one run folder, found {found}"
    return json.loads(found[0].read_text())


def no_traceback(output: str) -> None:
    assert "Traceback" not in output and "_pytest.outcomes.Exit" not in output, output
    assert "Exit: " not in output and "INTERNALERROR" not in output, output
    assert "During handling" not in output, output


# Environment variables a target file over a protocol double names (see `double_target`).
DOUBLE_SECRETS = {"anon_key_env": "DOUBLE_ANON_KEY", "service_key_env": "DOUBLE_SERVICE_KEY",
                  "jwt_secret_env": "DOUBLE_JWT_SECRET", "database_dsn_env": "DOUBLE_DSN"}


def double_target(folder: Path, name: str, urls: dict[str, str],
                  destructive: bool = False) -> Path:
    """A remote target file offering `postgres` and each service of `urls` (a protocol double
    served on loopback), its secrets named by `DOUBLE_SECRETS`."""
    path = folder / f"{name}.toml"
    services = ", ".join(f'"{s}"' for s in ["postgres", *urls])
    lines = [f'name = "{name}"', f"capabilities = [{services}]", "[urls]"]
    lines += [f'{service} = "{url}"' for service, url in urls.items()]
    lines += ["[secrets]", *(f'{key} = "{env}"' for key, env in DOUBLE_SECRETS.items())]
    if destructive:
        lines += ["[destructive]", "allowed = true"]
    path.write_text("\n".join([*lines, ""]))
    return path


def double_env(tmp_path: Path, jwt_secret: str, dsn: str) -> dict[str, str]:
    """This environment, less the harness's own settings, with the variables `double_target`
    names (keys shaped like the stack's, signed with `jwt_secret`) and TMPDIR in tmp_path."""
    from soberharness.runner.rest_matrix import RestKeys

    keys = RestKeys.minted(jwt_secret)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBERHARNESS_", "PYTEST_"))}
    values = {"anon_key_env": keys.anon_key, "service_key_env": keys.service_key,
              "jwt_secret_env": jwt_secret, "database_dsn_env": dsn}
    return env | {DOUBLE_SECRETS[k]: v for k, v in values.items()} | {"TMPDIR": str(tmp_path)}

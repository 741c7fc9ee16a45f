"""`python -m soberharness.targets.expose`: a complete target file that loads, variables that
survive `export $(…)` and `eval` in bash, a URL-form DSN that means what the keyword form did."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from soberharness.db import session as db_session
from soberharness.targets.base import Service
from soberharness.targets.expose import (
    ENV_DSN,
    ExposeOptions,
    env_file_text,
    env_line,
    parse_setting,
    target_file_text,
    url_dsn,
)
from soberharness.targets.remote import TargetFileError, load_target_file

REPO = Path(__file__).resolve().parents[2]

TRICKY_CONNINFOS = [
    "host=127.0.0.1 port=5433 dbname=sobertube_template user=supabase_admin connect_timeout=10",
    "host=db.internal port=6543 dbname='my db/x' user='app@tenant' password='p:@/ %?#&\\'\"x'",
    "host=/tmp/soberharness-x port=5432 dbname=postgres user=postgres",
    "host=::1 port=5432 dbname=postgres user=postgres sslmode=require",
    "host=a,b port=5432,5433 dbname=postgres user=postgres target_session_attrs=read-write",
]


@pytest.mark.parametrize("conninfo", TRICKY_CONNINFOS)
def test_the_url_form_means_the_same_connection(conninfo: str) -> None:
    url = url_dsn(conninfo)
    assert url.startswith("postgresql://")
    assert " " not in url
    assert conninfo_to_dict(url) == conninfo_to_dict(conninfo)


def _file(tmp_path: Path, options: ExposeOptions) -> Path:
    path = tmp_path / "exposed.toml"
    path.write_text(target_file_text(options))
    return path


def test_a_complete_file_loads_with_its_services_capabilities_and_settings(
        tmp_path: Path) -> None:
    options = ExposeOptions(
        name="exposed-here",
        urls={Service.AUTH: "http://127.0.0.1:9999", Service.STORAGE: "http://127.0.0.1:5000",
              Service.REST: "http://127.0.0.1:3000", Service.REALTIME: "ws://127.0.0.1:4000/socket",
              Service.MAIL: "http://127.0.0.1:8025", Service.FUNCTIONS: "http://127.0.0.1:9000"},
        image_transformation=True,
        settings={"GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL": "10",
                  "GOTRUE_MAILER_AUTOCONFIRM": "false"},
    )
    target = load_target_file(_file(tmp_path, options), environ={})
    assert target.name == "exposed-here"
    assert {s.value for s in target.services} == {
        "postgres", "auth", "storage", "rest", "realtime", "mail", "functions",
        "image-transformation"}
    assert target.config.urls[Service.REALTIME] == "ws://127.0.0.1:4000/socket"
    assert dict(target.settings) == {"GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL": "10",
                                     "GOTRUE_MAILER_AUTOCONFIRM": "false"}
    assert target.config.database_dsn_env == ENV_DSN
    assert not target.allows_destructive


def test_the_database_alone_offers_postgres_only(tmp_path: Path) -> None:
    target = load_target_file(_file(tmp_path, ExposeOptions()), environ={})
    assert {s.value for s in target.services} == {"postgres"}
    assert dict(target.settings) == {}


@pytest.mark.parametrize(("options", "message"), [
    (ExposeOptions(image_transformation=True),
     "capability 'image-transformation' listed without urls.storage"),
    (ExposeOptions(urls={Service.AUTH: "127.0.0.1:9999"}), "urls.auth"),
    (ExposeOptions(urls={Service.STORAGE: "http://user:pw@127.0.0.1:5000"}),
     "carries a credential"),
    (ExposeOptions(settings={"AUTH_JWT_SECRET": "9f8e7d6c5b4a39281706f5e4d3c2b1a0"}),
     "settings.AUTH_JWT_SECRET looks like a secret"),
])
def test_a_file_that_would_not_load_is_refused_with_one_line(
        options: ExposeOptions, message: str) -> None:
    with pytest.raises(TargetFileError, match=r"^expose: ") as caught:
        target_file_text(options)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_setting_is_name_equals_value() -> None:
    assert parse_setting("UPLOAD_FILE_SIZE_LIMIT=52428800") == ("UPLOAD_FILE_SIZE_LIMIT",
                                                                "52428800")
    assert parse_setting("X_Y=a=b") == ("X_Y", "a=b")
    for bad in ("lower=1", "NOEQUALS", "=1"):
        with pytest.raises(ValueError, match="NAME=VALUE"):
            parse_setting(bad)


def _bash_env(tmp_path: Path, script: str) -> dict[str, str]:
    """The environment a bash `script` leaves, run in an empty folder (no glob can match)."""
    work = tmp_path / "shell"
    work.mkdir(exist_ok=True)
    done = subprocess.run(["bash", "-c", script + "\nenv -0"], cwd=work, capture_output=True,
                          timeout=30, env={"PATH": os.environ["PATH"]}, check=True)
    pairs = (item.split(b"=", 1) for item in done.stdout.split(b"\0") if b"=" in item)
    return {k.decode(): v.decode() for k, v in pairs}


VALUES = {
    "SOBER_A_DSN": url_dsn(TRICKY_CONNINFOS[1]),
    "SOBER_A_KEY": "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJl",
    "SOBER_A_ODD": "two words, a 'quote' and $HOME",
}


def test_the_env_file_survives_export_of_cat_and_sourcing(tmp_path: Path) -> None:
    env_file = tmp_path / "exposed.env"
    env_file.write_text(env_file_text({k: v for k, v in VALUES.items() if k != "SOBER_A_ODD"}))
    exported = _bash_env(tmp_path, f"export $(cat {env_file})")
    sourced = _bash_env(tmp_path, f"set -a; . {env_file}; set +a")
    for got in (exported, sourced):
        assert got["SOBER_A_DSN"] == VALUES["SOBER_A_DSN"]
        assert got["SOBER_A_KEY"] == VALUES["SOBER_A_KEY"]
    # A value that word splitting would break is quoted: sourcing and eval keep it whole.
    printed = tmp_path / "printed.sh"
    printed.write_text("export " + env_line("SOBER_A_ODD", VALUES["SOBER_A_ODD"]) + "\n")
    evaluated = _bash_env(tmp_path, f'eval "$(cat {printed})"')
    assert evaluated["SOBER_A_ODD"] == VALUES["SOBER_A_ODD"]


def test_the_keyword_form_is_what_export_of_cat_breaks(tmp_path: Path) -> None:
    # The proof that the shell check above can fail: the old keyword-form DSN, written bare.
    keyword = TRICKY_CONNINFOS[0]
    env_file = tmp_path / "old.env"
    env_file.write_text(f"SOBER_A_DSN={keyword}\n")
    run = subprocess.run(["bash", "-c", f"export $(cat {env_file}) && env"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=30)
    assert f"SOBER_A_DSN={keyword}\n" not in run.stdout


def _read_until(proc: subprocess.Popen[bytes], marker: str, seconds: float) -> str:
    """What the process printed, up to `marker`, read straight from its pipe (no buffer that
    select could not see)."""
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + seconds
    while marker.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0 and proc.poll() is None, f"expose did not get ready: {seen!r}"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            seen += os.read(proc.stdout.fileno(), 65536)
    return seen.decode()


LOAD_AND_CONNECT = """
import json, os, sys, psycopg
from soberharness.targets.remote import load_target_file
target = load_target_file(sys.argv[1])
with psycopg.connect(target.admin_dsn(), connect_timeout=5) as conn:
    user = conn.execute("select current_user").fetchone()[0]
print(json.dumps({"services": sorted(s.value for s in target.services), "user": user,
                  "settings": dict(target.settings), "anon": bool(target.keys.anon_key)}))
"""


@pytest.mark.needs("postgres")
def test_expose_end_to_end_in_bash(tmp_path: Path) -> None:
    target_file = tmp_path / "exposed.toml"
    env_file = tmp_path / "exposed.env"
    proc = subprocess.Popen(
        [sys.executable, "-m", "soberharness.targets.expose", str(target_file),
         "--storage-url", "http://127.0.0.1:5000", "--auth-url", "http://127.0.0.1:9999",
         "--image-transformation", "--setting", "GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL=10"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        printed = _read_until(proc, "# Ctrl-C stops the stack.", 120)
        assert env_file.exists() and (env_file.stat().st_mode & 0o077) == 0
        exports = "\n".join(line for line in printed.splitlines() if line.startswith("export "))
        check = [sys.executable, "-c", LOAD_AND_CONNECT, str(target_file)]
        results = []
        for setup in (f"export $(cat {env_file})", exports):  # the file, and eval of stdout
            script = f"{setup}\ncd {REPO} && " + " ".join(f"'{a}'" for a in check)
            run = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                                 timeout=60, env={"PATH": os.environ["PATH"]})
            assert run.returncode == 0, run.stderr[-2000:]
            results.append(json.loads(run.stdout))
        for result in results:
            assert result == {
                "services": ["auth", "image-transformation", "postgres", "storage"],
                "user": "supabase_admin", "anon": True,
                "settings": {"GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL": "10"}}
        dsn = dict(line.split("=", 1) for line in env_file.read_text().splitlines())[ENV_DSN]
        assert dsn.startswith("postgresql://supabase_admin@127.0.0.1:")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert not env_file.exists()  # the keys go with the stack
    with pytest.raises(psycopg.OperationalError):
        db_session.connect(dsn, connect_timeout=3).close()


def test_bad_options_are_one_line_before_anything_starts(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "soberharness.targets.expose", str(tmp_path / "x.toml"),
         "--image-transformation"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 4
    assert "image-transformation" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "x.toml").exists()


def test_an_env_file_that_would_overwrite_the_target_file_is_refused(tmp_path: Path) -> None:
    target_file = tmp_path / "x.env"
    target_file.write_text("kept")
    run = subprocess.run(
        [sys.executable, "-m", "soberharness.targets.expose", str(target_file)],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 4 and "would overwrite the target file" in run.stderr
    assert target_file.read_text() == "kept"

"""Bad input ends in one line naming the problem, never a traceback: a migration file that is
not UTF-8, a Supabase CLI migrations folder without down files (the round trip is skipped
naming them), a token whose `role` claim is empty."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from soberharness.errors import HarnessError
from soberharness.runner.tokens_into_rls import ClaimsError, claims_from_token, viewer_from_claims
from soberharness.targets.local import LocalTarget

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.needs("postgres")
def test_a_migration_that_is_not_utf8_is_one_line_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "20240101000000_init.sql").write_text("create table public.t (a int);\n")
    (folder / "20240102000000_latin1.sql").write_bytes(
        b"-- caf\xe9 in Latin-1\ncomment on table public.t is 'caf\xe9';\n")
    target = LocalTarget(migrations=folder, workdir=tmp_path / "work")
    with pytest.raises(HarnessError) as info:
        target.start()
    message = str(info.value)
    assert "20240102000000_latin1.sql:1: not UTF-8" in message and "0xe9" in message
    assert "\n" not in message
    assert not target.pg.alive, "a failed start stops the server"


@pytest.mark.needs("postgres")
def test_round_trip_without_down_files_is_skipped_naming_them(tmp_path: Path) -> None:
    folder = tmp_path / "supabase" / "migrations"
    folder.mkdir(parents=True)
    (folder / "20240101000000_init.sql").write_text("create table public.t (a int);\n")
    (folder / "20240101000000_init.down.sql").write_text("drop table public.t;\n")
    (folder / "20240102000000_more.sql").write_text("create table public.u (a int);\n")
    (folder / "20240103000000_last.sql").write_text("create table public.v (a int);\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBERHARNESS_", "PYTEST_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         "suites/security/test_migrations_roundtrip.py", "--migrations", str(folder),
         "--report-dir", str(tmp_path / "reports" / "latest"), "--allow-all-skipped"],
        cwd=REPO, env=env | {"TMPDIR": str(tmp_path)}, capture_output=True, text=True,
        timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "HarnessError" not in output and "Traceback" not in output, output
    skipped = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1, output
    assert "20240102000000_more, 20240103000000_last" in skipped[0], skipped[0]
    assert "20240101000000_init" not in skipped[0]


def test_an_empty_role_claim_names_the_gotrue_setting() -> None:
    token = jwt.encode({"role": "", "sub": "8c2f0c59-4c0f-4a8e-9a7a-3c2b8e7f1d10",
                        "aud": "authenticated", "exp": 4102444800}, "s" * 32, algorithm="HS256")
    claims = claims_from_token(token, "s" * 32)
    with pytest.raises(ClaimsError, match="GOTRUE_JWT_DEFAULT_GROUP_NAME"):
        viewer_from_claims(claims)
    with pytest.raises(ClaimsError, match="'superuser' is none of"):
        viewer_from_claims(claims | {"role": "superuser"})
    assert viewer_from_claims(claims | {"role": "authenticated"}).user_id is not None

"""Nothing left behind on a target (issue 18, item 4): test users are found by their identities
too, and a run ends with a leftover check that names, by run id, whatever it left and fails.

Real PostgreSQL (a scratch clone of the stack), no GoTrue: the rows are inserted as GoTrue
leaves them. An identity provider's sign-in with an unverified e-mail leaves a user whose
e-mail is null, with a `keycloak` identity (GoTrue creates both before it answers 422).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from soberharness.checker.leftovers import Leftover, leftover_lines
from soberharness.db import session as db_session
from soberharness.workload.auth_target import TestUsers
from soberharness.workload.leftovers import find_leftovers, run_mark

REPO = Path(__file__).resolve().parents[2]

# auth.identities as GoTrue's migrations make it (the columns the harness reads); the local
# stack has no GoTrue to run them.
IDENTITIES = """
create table if not exists auth.identities (
  id uuid primary key default gen_random_uuid(),
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  unique (provider_id, provider)
)"""


def _user(conn: psycopg.Connection, email: str | None) -> str:
    user_id = str(uuid.uuid4())
    conn.execute("INSERT INTO auth.users (id, aud, role, email) "
                 "VALUES (%s, 'authenticated', 'authenticated', %s)", (user_id, email))
    return user_id


def _identity(conn: psycopg.Connection, user_id: str, subject: str) -> None:
    conn.execute("INSERT INTO auth.identities (provider_id, user_id, identity_data, provider) "
                 "VALUES (%s, %s, '{}', 'keycloak')", (subject, user_id))


def test_a_user_with_no_email_is_removed_by_its_identity(scratch_database: str) -> None:
    made = TestUsers(admin=None, dsn=scratch_database, run_id="a1b2c3d4")  # type: ignore[arg-type]
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute(IDENTITIES)
        bystander = _user(conn, "someone-else@example.test")
        _identity(conn, bystander, "someone-elses-subject")
        subject = made.subject("oidc-unverified")
        nameless = _user(conn, None)  # GoTrue's user for the unverified provider e-mail
        _identity(conn, nameless, subject)
        made.remove_all()
        left = {row[0] for row in conn.execute("SELECT id::text FROM auth.users")}
    assert "a1b2c3d4" in subject
    assert nameless not in left, "the provider's user with no e-mail stayed behind"
    assert bystander in left, "a user the test did not make was removed"


def test_the_run_id_marks_emails_and_subjects() -> None:
    made = TestUsers(admin=None, dsn="", run_id="Nightly_2026-05.1")  # type: ignore[arg-type]
    assert run_mark("Nightly_2026-05.1") == "nightly2026051"
    assert made.email("login").startswith("login-nightly2026051-")
    assert made.subject().startswith("oidc-nightly2026051-")


def test_find_leftovers_names_each_kind_of_the_run_and_nothing_else(
    scratch_database: str,
) -> None:
    run = "f00dcafe"
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute(IDENTITIES)
        _user(conn, f"login-{run}-0123456789@auth-suite.sobertube.test")
        _identity(conn, _user(conn, None), f"oidc-{run}-abc")
        _user(conn, "login-0badf00d-0123456789@auth-suite.sobertube.test")  # another run's
        mine = _user(conn, f"matrix_f_{run}@example.test")
        conn.execute("INSERT INTO public.profiles (id, handle) VALUES (%s, %s)",
                     (mine, f"matrix_f_{run}"))
        conn.execute("INSERT INTO storage.buckets (id, name) VALUES (%s, %s), ('avatars2', "
                     "'avatars2')", (f"sober-limits-{run}",) * 2)
        conn.execute("INSERT INTO storage.objects (bucket_id, name) VALUES ('avatars2', %s), "
                     "('avatars2', 'someone/else.png')", (f"{mine}/{run}.png",))
    found = {left.table: left for left in find_leftovers(scratch_database, run)}
    assert set(found) == {"auth.users", "auth.identities", "public.profiles", "storage.buckets",
                          "storage.objects"}, found
    assert found["auth.users"].count == 3, found["auth.users"]  # e-mail, identity, world user
    assert any(n.endswith("(no e-mail)") for n in found["auth.users"].names)
    assert found["auth.identities"].names == (f"keycloak:oidc-{run}-abc",)
    assert found["public.profiles"].names == (f"matrix_f_{run}",)
    assert found["storage.buckets"].names == (f"sober-limits-{run}",)
    assert found["storage.objects"].names == (f"avatars2/{mine}/{run}.png",)
    assert find_leftovers(scratch_database, "deadbeef") == []


def test_leftover_lines_one_per_kind_with_the_count() -> None:
    lines = leftover_lines([Leftover("auth.users", 7, ("a", "b", "c", "d", "e")),
                            Leftover("storage.buckets", 1, ("sober-limits-r1",))], "r1", "aws")
    assert lines == [
        "soberharness: run r1 left 7 in auth.users on target 'aws': a, b, c, d, e, and 2 more",
        "soberharness: run r1 left 1 in storage.buckets on target 'aws': sober-limits-r1"]
    assert leftover_lines([], "r1", "aws") == []


# A remote target offering only `postgres`: the outer test's scratch database.
DATABASE_ONLY_TARGET = """
name = "database-only"
[secrets]
database_dsn_env = "OUTER_DSN"
"""

PLANTING = """
import os
import psycopg
import pytest

@pytest.mark.needs("postgres")
def test_signs_in_with_a_provider(target, run_id):
    with psycopg.connect(target.admin_dsn(), autocommit=True) as conn:
        user = conn.execute("INSERT INTO auth.users (id, aud, role) VALUES "
                            "(gen_random_uuid(), 'authenticated', 'authenticated') "
                            "RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO auth.identities (provider_id, user_id, identity_data, "
                     "provider) VALUES (%s, %s, '{}', 'keycloak')", (f"oidc-{run_id}-1", user))
        conn.execute("INSERT INTO storage.buckets (id, name) VALUES (%s, %s)",
                     (f"planted-{run_id}",) * 2)
        if os.environ.get("PLANT_CLEANS_UP") == "1":
            conn.execute("DELETE FROM auth.users WHERE id = %s", (user,))
            with conn.transaction():  # as the Storage API deletes
                conn.execute("SELECT set_config('storage.allow_delete_query', 'true', true)")
                conn.execute("DELETE FROM storage.buckets WHERE id = %s",
                             (f"planted-{run_id}",))
"""


@pytest.mark.parametrize(("cleans_up", "workers"), [(False, []), (True, []), (False, ["-n", "2"])],
                         ids=["planted-leftover", "clean", "planted-leftover-xdist"])
def test_the_run_ends_failing_with_one_line_per_leftover_kind(
    tmp_path: Path, scratch_database: str, cleans_up: bool, workers: list[str],
) -> None:
    """Under pytest-xdist the controller checks once, after the workers are done."""
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute(IDENTITIES)
    (tmp_path / "test_planting.py").write_text(PLANTING)
    (tmp_path / "database-only.toml").write_text(DATABASE_ONLY_TARGET)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBERHARNESS_", "PYTEST_"))}
    env |= {"OUTER_DSN": scratch_database, "SOBERHARNESS_RUN_ID": "planted1",
            "PLANT_CLEANS_UP": "1" if cleans_up else "0", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--target",
         "database-only.toml", "--report-dir", str(tmp_path / "reports" / "latest"), *workers],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    output = done.stdout + done.stderr
    lines = [line for line in output.splitlines() if "left " in line and "planted1" in line]
    if cleans_up:
        assert done.returncode == 0, output
        assert lines == [], output
        return
    assert done.returncode == 1, output
    assert "1 passed" in output, output  # the test passed: the leftover check failed the run
    assert "Traceback" not in output, output
    assert len(lines) == 3, output
    assert any("left 1 in auth.users on target 'database-only':" in line
               and line.endswith("(no e-mail)") for line in lines), output
    assert any(line.endswith("left 1 in auth.identities on target 'database-only': "
                             "keycloak:oidc-planted1-1") for line in lines), output
    assert any(line.endswith("left 1 in storage.buckets on target 'database-only': "
                             "planted-planted1") for line in lines), output

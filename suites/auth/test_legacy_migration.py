"""Migration of the custom-JWT era's users (seed 1.3.4, 3.1.1) into GoTrue's tables.

Runs on a throwaway database per test: on a target with GoTrue, one on its server with
GoTrue's real auth schema (soberharness.targets.scratch); on the local target a clone of the
template with the bootstrap's stub:
counts, kept hashes, profiles and follows, bad rows reported, rollback to the exact previous
state. The last test signs every migrated user in through real GoTrue where the target
offers it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest

from soberharness.clients.gotrue import GoTrueError
from soberharness.db import session as db_session
from soberharness.errors import HarnessError
from soberharness.migrate_legacy import Record, read_record, run
from soberharness.targets.base import Service, Target
from soberharness.targets.migrations import REPO
from soberharness.targets.scratch import database_with_schema_of
from soberharness.workload.auth_target import gotrue
from soberharness.workload.flow import Flow

LEGACY = REPO / "fixtures" / "legacy"
EXPORT = LEGACY / "users.json"
PASSWORDS: dict[str, str] = json.loads((LEGACY / "passwords.json").read_text())
DATA: dict[str, Any] = json.loads(EXPORT.read_text())
GOOD_USERS = [u for u in DATA["users"] if u["email"] in PASSWORDS]
GOOD_FOLLOWS = DATA["follows"][:8]

# Every table the migration may touch, read in full: counts and a digest of the rows.
STATE_TABLES = ("auth.users", "public.profiles", "public.follows")


def state(conn: psycopg.Connection) -> dict[str, tuple[int, str | None]]:
    """Row count and an md5 over every row (ordered) of each table the migration touches."""
    tables = list(STATE_TABLES)
    if conn.execute("SELECT to_regclass('auth.identities')").fetchone() != (None,):
        tables.append("auth.identities")
    found = {}
    for table in tables:
        row = conn.execute(
            f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"
        ).fetchone()
        assert row is not None
        found[table] = (row[0], row[1])
    return found


@pytest.fixture
def legacy_db(request: pytest.FixtureRequest, target: Target) -> Iterator[psycopg.Connection]:
    """A throwaway database to migrate into: on a target with GoTrue, one on its server with
    GoTrue's real `auth` schema (the migration writes only the columns it finds, so only the
    real schema shows a mismatch); on the local target a clone with the bootstrap's stub."""
    if Service.AUTH in target.services and Service.POSTGRES in target.services:
        scratch = ExitStack()
        try:
            dsn = scratch.enter_context(database_with_schema_of(target, "auth", "legacy"))
        except HarnessError as exc:
            pytest.skip(f"target '{target.name}' offers no scratch database with GoTrue's "
                        f"auth schema: {exc}")
        with scratch, db_session.connect(dsn, autocommit=True) as conn:
            yield conn
        return
    with db_session.connect(request.getfixturevalue("scratch_database"), autocommit=True) as conn:
        yield conn


def migrate(dsn: str, record: Path, *extra: str) -> int:
    return run(["--dsn", dsn, str(EXPORT), "--record", str(record), *extra])


def dsn_of(conn: psycopg.Connection) -> str:
    info = conn.info
    return f"host={info.host} port={info.port} dbname={info.dbname} user={info.user}"


@pytest.mark.needs("postgres")
def test_good_rows_migrate_with_hashes_profiles_and_follows(
    legacy_db: psycopg.Connection, tmp_path: Path
) -> None:
    flow = Flow("legacy migration")
    users_before = legacy_db.execute("SELECT count(*) FROM auth.users").fetchone()
    with flow.step("run the migration"):
        assert migrate(dsn_of(legacy_db), tmp_path / "r.json") == 1, "bad rows must give exit 1"
    with flow.step("counts match"):
        after = legacy_db.execute("SELECT count(*) FROM auth.users").fetchone()
        assert users_before is not None and after is not None
        assert after[0] - users_before[0] == len(GOOD_USERS)
        record = read_record(tmp_path / "r.json")
        assert sorted(record.users) == sorted(u["id"] for u in GOOD_USERS)
        assert len(record.follows) == len(GOOD_FOLLOWS)
    with flow.step("auth.users rows as GoTrue expects them"):
        for user in GOOD_USERS:
            row = legacy_db.execute(
                "SELECT email, encrypted_password, instance_id::text, aud, role, "
                "raw_app_meta_data, confirmed_at IS NOT NULL, confirmation_token "
                "FROM auth.users WHERE id = %s", (user["id"],)
            ).fetchone()
            assert row is not None, f"{user['email']} missing from auth.users"
            email, hashed, instance, aud, role, app_meta, confirmed, conf_token = row
            assert email == user["email"]
            assert hashed == user["password_hash"], f"{email}: hash not kept as is"
            assert instance == "00000000-0000-0000-0000-000000000000"
            assert (aud, role) == ("authenticated", "authenticated")
            assert app_meta == {"provider": "email", "providers": ["email"]}
            assert confirmed, f"{email}: not confirmed"
            assert conf_token == "", f"{email}: token columns must be '' for GoTrue"
    with flow.step("profiles intact"):
        for user in GOOD_USERS:
            row = legacy_db.execute(
                "SELECT handle, display_name, bio, privacy::text, sober_since::text "
                "FROM public.profiles WHERE id = %s", (user["id"],)
            ).fetchone()
            assert row == (user["handle"], user.get("display_name"), user.get("bio"),
                           user["privacy"], user["sober_since"]), user["handle"]
    with flow.step("follows intact"):
        rows = legacy_db.execute(
            "SELECT follower_id::text, followee_id::text, status::text FROM public.follows "
            "WHERE follower_id = ANY(%s::uuid[])", ([u["id"] for u in GOOD_USERS],)
        ).fetchall()
        assert sorted(rows) == sorted(
            (f["follower"], f["followee"], f["status"]) for f in GOOD_FOLLOWS
        )


@pytest.mark.needs("postgres")
def test_bad_rows_are_reported_with_row_numbers(
    legacy_db: psycopg.Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate(dsn_of(legacy_db), tmp_path / "r.json") == 1
    printed = capsys.readouterr().out
    record = read_record(tmp_path / "r.json")
    expected = {
        "users row 9": "duplicate e-mail",
        "users row 10": "malformed password hash",
        "users row 11": "malformed password hash",
        "users row 12": "malformed e-mail",
        "follows row 9": "is not a migrated user",
        "follows row 10": "cannot follow themselves",
        "follows row 11": "duplicate follow",
    }
    assert len(record.problems) == len(expected), record.problems
    for where, what in expected.items():
        matching = [p for p in record.problems if p.startswith(where + ":")]
        assert matching and what in matching[0], f"{where}: {what!r} not in {record.problems}"
        assert f"BAD {matching[0]}" in printed, f"{where} not printed"
    bad_ids = [u["id"] for u in DATA["users"][8:]]
    left = legacy_db.execute(
        "SELECT count(*) FROM auth.users WHERE id = ANY(%s::uuid[])", (bad_ids,)
    ).fetchone()
    assert left == (0,), "a bad row was migrated"


@pytest.mark.needs("postgres")
def test_old_passwords_match_the_kept_hashes_in_sql(
    legacy_db: psycopg.Connection, tmp_path: Path
) -> None:
    """pgcrypto's crypt() as a stand-in for GoTrue's check that the hashes survived intact.

    pgcrypto reads only $2a$; $2b$ differs from $2a$ only for passwords over 255 bytes, so a
    $2b$ hash is checked under the $2a$ prefix (same salt, same digest)."""
    migrate(dsn_of(legacy_db), tmp_path / "r.json")
    check = (
        "SELECT extensions.crypt(%(pw)s, h) = h FROM ("
        "  SELECT '$2a$' || substr(encrypted_password, 5) AS h FROM auth.users "
        "  WHERE email = %(email)s) s"
    )
    for email, password in PASSWORDS.items():
        assert legacy_db.execute(check, {"pw": password, "email": email}).fetchone() == (True,), (
            f"{email}: old password does not match the migrated hash"
        )
        assert legacy_db.execute(check, {"pw": password + "x", "email": email}).fetchone() == (
            False,
        ), f"{email}: a wrong password matched"


@pytest.mark.needs("postgres")
def test_rollback_restores_the_previous_state_exactly(
    legacy_db: psycopg.Connection, tmp_path: Path
) -> None:
    flow = Flow("legacy rollback")
    record_path = tmp_path / "r.json"
    before = state(legacy_db)
    with flow.step("migrate"):
        assert migrate(dsn_of(legacy_db), record_path) == 1
        assert state(legacy_db) != before
    with flow.step("a second migration is refused until rolled back"):
        assert migrate(dsn_of(legacy_db), record_path) == 4
    with flow.step("rollback"):
        assert migrate(dsn_of(legacy_db), record_path, "--rollback") == 0
        assert state(legacy_db) == before
        assert read_record(record_path).rolled_back_at
    with flow.step("a second rollback is refused"):
        assert migrate(dsn_of(legacy_db), record_path, "--rollback") == 4
        assert state(legacy_db) == before
    with flow.step("migrate again after the rollback"):
        assert migrate(dsn_of(legacy_db), record_path) == 1
        assert len(read_record(record_path).users) == len(GOOD_USERS)


@pytest.mark.needs("postgres")
def test_rollback_refuses_when_the_rows_changed(
    legacy_db: psycopg.Connection, tmp_path: Path
) -> None:
    record_path = tmp_path / "r.json"
    migrate(dsn_of(legacy_db), record_path)
    first = GOOD_FOLLOWS[0]
    legacy_db.execute(
        "DELETE FROM public.follows WHERE follower_id = %s AND followee_id = %s",
        (first["follower"], first["followee"]),
    )
    changed = state(legacy_db)
    assert migrate(dsn_of(legacy_db), record_path, "--rollback") == 4
    assert state(legacy_db) == changed, "a refused rollback changed the database"
    assert not read_record(record_path).rolled_back_at


@pytest.mark.needs("postgres")
def test_dry_run_changes_nothing(legacy_db: psycopg.Connection, tmp_path: Path) -> None:
    before = state(legacy_db)
    assert migrate(dsn_of(legacy_db), tmp_path / "r.json", "--dry-run") == 1
    assert state(legacy_db) == before
    assert not (tmp_path / "r.json").exists()


# GoTrue's auth.identities as its migrations leave it (20210909172000 + 20231117164230 +
# the generated email column): created here where GoTrue's own migrations did not make it
# (the bootstrap's stub auth schema); a database GoTrue migrated keeps its own.
IDENTITIES_DDL = """
create table auth.identities (
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  email text generated always as (lower(identity_data ->> 'email')) stored,
  id uuid not null default gen_random_uuid() primary key,
  constraint identities_provider_id_provider_unique unique (provider_id, provider)
)
"""


@pytest.mark.needs("postgres")
def test_identities_are_written_where_gotrue_has_the_table(
    legacy_db: psycopg.Connection, tmp_path: Path
) -> None:
    if legacy_db.execute("SELECT to_regclass('auth.identities')").fetchone() == (None,):
        legacy_db.execute(IDENTITIES_DDL)
    before = state(legacy_db)
    record_path = tmp_path / "r.json"
    assert migrate(dsn_of(legacy_db), record_path) == 1
    rows = legacy_db.execute(
        "SELECT provider_id, user_id::text, provider, email, identity_data ->> 'sub' "
        "FROM auth.identities"
    ).fetchall()
    assert sorted(rows) == sorted(
        (u["id"], u["id"], "email", u["email"].lower(), u["id"]) for u in GOOD_USERS
    )
    assert Record.from_json(json.loads(record_path.read_text())).identities
    assert migrate(dsn_of(legacy_db), record_path, "--rollback") == 0
    assert state(legacy_db) == before


@pytest.mark.needs("postgres", "auth")
def test_every_migrated_user_signs_in_to_gotrue_with_the_old_password(
    target: Target, tmp_path: Path
) -> None:
    """On the database GoTrue serves: migrate, sign each user in, roll back."""
    flow = Flow("legacy users on GoTrue")
    dsn = target.admin_dsn()
    record_path = tmp_path / "r.json"
    with flow.step("migrate into the database GoTrue serves"):
        assert migrate(dsn, record_path) == 1
    try:
        with gotrue(target) as client:
            for email, password in PASSWORDS.items():
                with flow.step(f"sign in {email}"):
                    session = client.sign_in_password(email, password)
                    assert session.user is not None and session.user.email == email
                with flow.step(f"wrong password for {email} refused"):
                    with pytest.raises(GoTrueError) as refused:
                        client.sign_in_password(email, password + "x")
                    assert refused.value.status == 400
    finally:
        with db_session.connect(dsn, autocommit=True) as conn:
            # GoTrue added sessions and refresh tokens for these users: they go with them.
            ids = read_record(record_path).users
            conn.execute("DELETE FROM auth.sessions WHERE user_id = ANY(%s::uuid[])", (ids,))
        assert migrate(dsn, record_path, "--rollback") == 0

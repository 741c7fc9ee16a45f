"""Move users exported from SoberTube's custom-JWT era into GoTrue's tables, and back.

    python -m soberharness.migrate_legacy --dsn DSN FILE [--record PATH] [--dry-run]
    python -m soberharness.migrate_legacy --dsn DSN FILE --rollback [--record PATH]

FILE is a legacy export (see fixtures/legacy/users.json): `users` (id, email, bcrypt
password_hash, handle, display_name, bio, privacy, sober_since, created_at) and `follows`
(follower, followee, status, created_at).

Each good user becomes an auth.users row whose encrypted_password is the bcrypt hash kept as
it is (GoTrue checks $2a$/$2b$ hashes with Go's bcrypt), e-mail confirmed, aud/role
'authenticated', raw_app_meta_data {provider: email}; an auth.identities row where GoTrue's
migrations created that table (GoTrue at commit 2af904a signs an e-mail user in without one,
but it lists, links and unlinks identities from that table, so the row is written as GoTrue's
own sign-up writes it); a
public.profiles row; and the follows between migrated users. Everything goes in one
transaction. Bad rows (malformed e-mail or hash, duplicate e-mail, id or handle, follows of
users that were not migrated...) are skipped and reported with their row numbers.

What was inserted is written to a record file (default reports/legacy-migration/<name>.
record.json) after the commit; --rollback deletes exactly those rows, in one transaction,
and refuses if they no longer match the record. Exit status: 0 done, 2 done with bad rows
reported, 1 error (one line).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
import sys
import uuid
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from soberharness.db import session as db_session
from soberharness.errors import Exit, HarnessError, OneLineParser
from soberharness.targets.migrations import REPO

INSTANCE_ID = "00000000-0000-0000-0000-000000000000"
PRIVACY = ("public", "community", "private")
FOLLOW_STATUS = ("pending", "accepted")
BCRYPT = re.compile(r"^\$2[abxy]?\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Token columns GoTrue reads as plain strings: NULL there breaks its sign-in, so '' it is.
EMPTY_STRING_COLUMNS = (
    "confirmation_token",
    "recovery_token",
    "email_change_token_new",
    "email_change_token_current",
    "email_change",
    "phone_change",
    "phone_change_token",
    "reauthentication_token",
)


@dataclasses.dataclass(frozen=True)
class Problem:
    section: str  # "users" | "follows"
    row: int  # 1-based position in that section of the export
    what: str

    def __str__(self) -> str:
        return f"{self.section} row {self.row}: {self.what}"


@dataclasses.dataclass(frozen=True)
class LegacyUser:
    row: int
    id: uuid.UUID
    email: str
    password_hash: str
    handle: str
    display_name: str | None
    bio: str | None
    privacy: str
    sober_since: dt.date | None
    created_at: str | None


@dataclasses.dataclass(frozen=True)
class LegacyFollow:
    row: int
    follower: uuid.UUID
    followee: uuid.UUID
    status: str
    created_at: str | None


@dataclasses.dataclass
class Plan:
    users: list[LegacyUser]
    follows: list[LegacyFollow]
    problems: list[Problem]


@dataclasses.dataclass
class Record:
    """What one migration inserted: enough to take it out again."""

    file: str
    file_sha256: str
    database: str
    migrated_at: str
    users: list[str]
    identities: list[str]  # user ids whose 'email' identity was inserted
    profiles: list[str]
    follows: list[tuple[str, str]]
    problems: list[str]
    rolled_back_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["follows"] = [list(pair) for pair in self.follows]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        data = dict(data)
        data["follows"] = [tuple(pair) for pair in data.get("follows", [])]
        return cls(**data)


# ------------------------------------------------------------------------------ reading


def load_export(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise HarnessError(f"cannot read legacy export {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise HarnessError(f"legacy export {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("users"), list):
        raise HarnessError(f"legacy export {path} has no 'users' list")
    return data


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _date(value: Any) -> tuple[bool, dt.date | None]:
    if value in (None, ""):
        return True, None
    try:
        return True, dt.date.fromisoformat(str(value))
    except ValueError:
        return False, None


def plan(
    export: dict[str, Any],
    existing_ids: AbstractSet[uuid.UUID] = frozenset(),
    existing_emails: AbstractSet[str] = frozenset(),
    existing_handles: AbstractSet[str] = frozenset(),
) -> Plan:
    """Which rows migrate and which are reported, against what the database already holds."""
    problems: list[Problem] = []
    users: list[LegacyUser] = []
    seen_ids: dict[uuid.UUID, int] = {}
    seen_emails: dict[str, int] = {}
    seen_handles: dict[str, int] = {}
    for n, raw in enumerate(export["users"], start=1):
        if not isinstance(raw, dict):
            problems.append(Problem("users", n, "not an object"))
            continue
        found: list[str] = []
        user_id = _uuid(raw.get("id"))
        email = str(raw.get("email") or "").strip()
        key = email.lower()
        password_hash = str(raw.get("password_hash") or "")
        handle = str(raw.get("handle") or "").strip()
        privacy = str(raw.get("privacy") or "public")
        date_ok, sober_since = _date(raw.get("sober_since"))
        if user_id is None:
            found.append(f"malformed id {raw.get('id')!r}")
        elif user_id in existing_ids:
            found.append(f"id {user_id} already exists in auth.users")
        elif user_id in seen_ids:
            found.append(f"duplicate id {user_id} (first at users row {seen_ids[user_id]})")
        if not EMAIL.match(email):
            found.append(f"malformed e-mail {email!r}")
        elif key in existing_emails:
            found.append(f"e-mail {email} already exists in auth.users")
        elif key in seen_emails:
            found.append(f"duplicate e-mail {email} (first at users row {seen_emails[key]})")
        if not BCRYPT.match(password_hash):
            found.append("malformed password hash (not a bcrypt $2a$/$2b$ hash)")
        if not handle:
            found.append("missing handle")
        elif handle in existing_handles:
            found.append(f"handle {handle!r} already taken in public.profiles")
        elif handle in seen_handles:
            found.append(f"duplicate handle {handle!r} (first at users row {seen_handles[handle]})")
        if privacy not in PRIVACY:
            found.append(f"unknown privacy {privacy!r}")
        if not date_ok:
            found.append(f"malformed sober_since {raw.get('sober_since')!r}")
        if found:
            problems.append(Problem("users", n, "; ".join(found)))
            continue
        assert user_id is not None
        seen_ids[user_id] = n
        seen_emails[key] = n
        seen_handles[handle] = n
        users.append(
            LegacyUser(
                row=n,
                id=user_id,
                email=email,
                password_hash=password_hash,
                handle=handle,
                display_name=raw.get("display_name"),
                bio=raw.get("bio"),
                privacy=privacy,
                sober_since=sober_since,
                created_at=raw.get("created_at"),
            )
        )
    migrated = {u.id for u in users}
    follows: list[LegacyFollow] = []
    pairs: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for n, raw in enumerate(export.get("follows") or [], start=1):
        if not isinstance(raw, dict):
            problems.append(Problem("follows", n, "not an object"))
            continue
        follower, followee = _uuid(raw.get("follower")), _uuid(raw.get("followee"))
        status = str(raw.get("status") or "accepted")
        found = []
        if follower is None or followee is None:
            found.append("malformed follower or followee id")
        else:
            if follower not in migrated:
                found.append(f"follower {follower} is not a migrated user")
            if followee not in migrated:
                found.append(f"followee {followee} is not a migrated user")
            if follower == followee:
                found.append("a user cannot follow themselves")
            if (follower, followee) in pairs:
                first = pairs[(follower, followee)]
                found.append(f"duplicate follow (first at follows row {first})")
        if status not in FOLLOW_STATUS:
            found.append(f"unknown status {status!r}")
        if found:
            problems.append(Problem("follows", n, "; ".join(found)))
            continue
        assert follower is not None and followee is not None
        pairs[(follower, followee)] = n
        follows.append(LegacyFollow(n, follower, followee, status, raw.get("created_at")))
    return Plan(users, follows, problems)


# ----------------------------------------------------------------------------- writing


def _columns(conn: psycopg.Connection, schema: str, table: str) -> set[str]:
    """Columns of a table that can be written (generated ones left out); empty if absent."""
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s AND is_generated = 'NEVER'",
        (schema, table),
    ).fetchall()
    return {r[0] for r in rows}


def _insert(conn: psycopg.Connection, table: str, values: dict[str, Any]) -> None:
    schema, name = table.split(".")
    conn.execute(
        sql.SQL("INSERT INTO {}.{} ({}) VALUES ({})").format(
            sql.Identifier(schema),
            sql.Identifier(name),
            sql.SQL(", ").join(sql.Identifier(c) for c in values),
            sql.SQL(", ").join(sql.Placeholder() for _ in values),
        ),
        list(values.values()),
    )


def _user_row(user: LegacyUser, columns: set[str], now: str) -> dict[str, Any]:
    created = user.created_at or now
    values: dict[str, Any] = {
        "instance_id": INSTANCE_ID,
        "id": user.id,
        "aud": "authenticated",
        "role": "authenticated",
        "email": user.email,
        "encrypted_password": user.password_hash,
        "email_confirmed_at": created,
        "confirmed_at": created,  # plain column before GoTrue's migrations, generated after
        "raw_app_meta_data": json.dumps({"provider": "email", "providers": ["email"]}),
        "raw_user_meta_data": json.dumps({}),
        "created_at": created,
        "updated_at": now,
        "is_sso_user": False,
        "is_anonymous": False,
        **{c: "" for c in EMPTY_STRING_COLUMNS},
    }
    return {k: v for k, v in values.items() if k in columns}


def _identity_row(user: LegacyUser, columns: set[str], now: str) -> dict[str, Any]:
    data = {"sub": str(user.id), "email": user.email, "email_verified": True,
            "phone_verified": False}
    values: dict[str, Any] = {
        "user_id": user.id,
        "identity_data": json.dumps(data),
        "provider": "email",
        "created_at": user.created_at or now,
        "updated_at": now,
    }
    if "provider_id" in columns:  # GoTrue >= 2023-11: provider_id + a uuid id of its own
        values["provider_id"] = str(user.id)
    else:  # older GoTrue: id is the provider's id
        values["id"] = str(user.id)
    return {k: v for k, v in values.items() if k in columns}


def existing_state(conn: psycopg.Connection) -> tuple[set[uuid.UUID], set[str], set[str]]:
    ids = {r[0] for r in conn.execute("SELECT id FROM auth.users").fetchall()}
    emails = {
        r[0] for r in conn.execute(
            "SELECT lower(email) FROM auth.users WHERE email IS NOT NULL"
        ).fetchall()
    }
    handles = {r[0] for r in conn.execute("SELECT handle FROM public.profiles").fetchall()}
    return ids, emails, handles


def migrate(conn: psycopg.Connection, export: dict[str, Any], file_label: str) -> Record:
    """Insert the good rows of `export` in one transaction; returns what was inserted."""
    now = dt.datetime.now(dt.UTC).isoformat()
    with conn.transaction():
        the_plan = plan(export, *existing_state(conn))
        user_columns = _columns(conn, "auth", "users")
        identity_columns = _columns(conn, "auth", "identities")
        for user in the_plan.users:
            _insert(conn, "auth.users", _user_row(user, user_columns, now))
            if identity_columns:
                _insert(conn, "auth.identities", _identity_row(user, identity_columns, now))
            _insert(conn, "public.profiles", {
                "id": user.id,
                "handle": user.handle,
                "display_name": user.display_name,
                "bio": user.bio,
                "privacy": user.privacy,
                "sober_since": user.sober_since,
                **({"created_at": user.created_at} if user.created_at else {}),
            })
        for follow in the_plan.follows:
            _insert(conn, "public.follows", {
                "follower_id": follow.follower,
                "followee_id": follow.followee,
                "status": follow.status,
                **({"created_at": follow.created_at} if follow.created_at else {}),
            })
    ids = [str(u.id) for u in the_plan.users]
    return Record(
        file=file_label,
        file_sha256=hashlib.sha256(json.dumps(export, sort_keys=True).encode()).hexdigest(),
        database=conn.info.dbname,
        migrated_at=now,
        users=ids,
        identities=ids if identity_columns else [],
        profiles=ids,
        follows=[(str(f.follower), str(f.followee)) for f in the_plan.follows],
        problems=[str(p) for p in the_plan.problems],
    )


def rollback(conn: psycopg.Connection, record: Record) -> dict[str, int]:
    """Delete exactly what `record` says was inserted, in one transaction; refuses (and
    changes nothing) when the rows found no longer match the record."""
    if record.rolled_back_at:
        raise HarnessError(f"the migration of {record.file} was already rolled back "
                           f"at {record.rolled_back_at}")
    pairs = [(uuid.UUID(a), uuid.UUID(b)) for a, b in record.follows]
    users = [uuid.UUID(u) for u in record.users]
    deleted: dict[str, int] = {}
    with conn.transaction():
        cur = conn.execute(
            "DELETE FROM public.follows f USING unnest(%s::uuid[], %s::uuid[]) AS k(a, b) "
            "WHERE f.follower_id = k.a AND f.followee_id = k.b",
            ([a for a, _ in pairs], [b for _, b in pairs]),
        )
        deleted["public.follows"] = cur.rowcount
        cur = conn.execute("DELETE FROM public.profiles WHERE id = ANY(%s)",
                           ([uuid.UUID(p) for p in record.profiles],))
        deleted["public.profiles"] = cur.rowcount
        if record.identities:
            cur = conn.execute(
                "DELETE FROM auth.identities WHERE provider = 'email' AND user_id = ANY(%s)",
                ([uuid.UUID(i) for i in record.identities],),
            )
            deleted["auth.identities"] = cur.rowcount
        cur = conn.execute("DELETE FROM auth.users WHERE id = ANY(%s)", (users,))
        deleted["auth.users"] = cur.rowcount
        expected = {
            "public.follows": len(record.follows),
            "public.profiles": len(record.profiles),
            "auth.users": len(record.users),
        }
        if record.identities:
            expected["auth.identities"] = len(record.identities)
        if deleted != expected:
            raise HarnessError(
                "rollback refused, nothing changed: the database no longer holds what the "
                f"migration inserted (found {deleted}, recorded {expected})"
            )
    return deleted


# --------------------------------------------------------------------------------- CLI


def default_record_path(export_path: Path) -> Path:
    return REPO / "reports" / "legacy-migration" / f"{export_path.stem}.record.json"


def write_record(path: Path, record: Record) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record.to_json(), indent=2) + "\n")
    tmp.replace(path)


def read_record(path: Path) -> Record:
    try:
        return Record.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        raise HarnessError(f"no migration record at {path}: nothing to roll back") from None
    except (json.JSONDecodeError, TypeError) as exc:
        raise HarnessError(f"migration record {path} is unreadable: {exc}") from None


def run(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m soberharness.migrate_legacy",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", required=True, help="PostgreSQL DSN of the target database")
    parser.add_argument("file", type=Path, help="legacy export (JSON)")
    parser.add_argument("--rollback", action="store_true", help="undo a recorded migration")
    parser.add_argument("--record", type=Path, default=None,
                        help="record file (default reports/legacy-migration/<name>.record.json)")
    parser.add_argument("--dry-run", action="store_true",
                        help="only report which rows would migrate and which are bad")
    args = parser.parse_args(argv)
    record_path: Path = args.record or default_record_path(args.file)
    try:
        with db_session.connect(args.dsn, autocommit=True, connect_timeout=10) as conn:
            if args.rollback:
                record = read_record(record_path)
                deleted = rollback(conn, record)
                record.rolled_back_at = dt.datetime.now(dt.UTC).isoformat()
                write_record(record_path, record)
                print("rolled back: " + ", ".join(f"{k} {v}" for k, v in deleted.items()))
                return 0
            export = load_export(args.file)
            if args.dry_run:
                the_plan = plan(export, *existing_state(conn))
                print(f"would migrate {len(the_plan.users)} users, {len(the_plan.follows)} follows")
                for problem in the_plan.problems:
                    print(f"BAD {problem}")
                return Exit.FOUND if the_plan.problems else Exit.OK
            if record_path.exists() and not read_record(record_path).rolled_back_at:
                raise HarnessError(f"{record_path} records a migration not rolled back yet: "
                                   "roll it back first or pass another --record")
            record = migrate(conn, export, str(args.file))
            write_record(record_path, record)
    except psycopg.OperationalError as exc:
        print(f"migrate_legacy: cannot connect: {str(exc).strip().splitlines()[0]}",
              file=sys.stderr)
        return Exit.BAD_INPUT
    except psycopg.Error as exc:
        print(f"migrate_legacy: database refused: {exc.sqlstate}: "
              f"{(exc.diag.message_primary or str(exc)).strip()}", file=sys.stderr)
        return Exit.BAD_INPUT
    except HarnessError as exc:
        print(f"migrate_legacy: {exc}", file=sys.stderr)
        return Exit.BAD_INPUT
    print(f"migrated {len(record.users)} users, {len(record.follows)} follows "
          f"({'with' if record.identities else 'without'} auth.identities); record: {record_path}")
    for problem in record.problems:
        print(f"BAD {problem}")
    return Exit.FOUND if record.problems else Exit.OK


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()

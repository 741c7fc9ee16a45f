"""What GoTrue leaves in its `auth` tables, read as an admin: the state auth flows assert on.

Column names follow GoTrue's migrations (users.email_confirmed_at, banned_until,
recovery_token; sessions.aal/not_after; refresh_tokens.session_id/parent/revoked;
mfa_factors.status/factor_type; mfa_challenges.verified_at; mfa_amr_claims).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row


def user_row(conn: psycopg.Connection, email: str) -> dict[str, Any] | None:
    """The auth.users row with this e-mail (case-insensitive), None if there is none."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM auth.users WHERE lower(email) = lower(%s)", (email,))
        rows = cur.fetchall()
    if len(rows) > 1:
        raise AssertionError(f"{len(rows)} auth.users rows share the e-mail {email}")
    return rows[0] if rows else None


def users_with_email(conn: psycopg.Connection, email: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM auth.users WHERE lower(email) = lower(%s)", (email,)
    ).fetchone()
    return int(row[0]) if row else 0


def sessions_of(conn: psycopg.Connection, user_id: str | uuid.UUID) -> dict[str, dict[str, Any]]:
    """The user's auth.sessions rows by session id."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM auth.sessions WHERE user_id = %s", (str(user_id),))
        return {str(r["id"]): r for r in cur.fetchall()}


def refresh_token_row(conn: psycopg.Connection, token: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM auth.refresh_tokens WHERE token = %s", (token,))
        return cur.fetchone()


def seconds_until_reuse_ends(conn: psycopg.Connection, token: str, interval: int) -> float:
    """Seconds, by the database's clock, until a revoked refresh token's reuse interval ends
    (GoTrue allows reuse until updated_at + interval)."""
    row = conn.execute(
        "SELECT extract(epoch FROM (updated_at + make_interval(secs => %s) - now())) "
        "FROM auth.refresh_tokens WHERE token = %s", (interval, token)).fetchone()
    if row is None:
        raise LookupError("no such refresh token")
    return max(0.0, float(row[0]))


def refresh_tokens_of_session(conn: psycopg.Connection, session_id: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM auth.refresh_tokens WHERE session_id = %s ORDER BY id",
                    (session_id,))
        return cur.fetchall()


def factors_of(conn: psycopg.Connection, user_id: str) -> dict[str, dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM auth.mfa_factors WHERE user_id = %s", (user_id,))
        return {str(r["id"]): r for r in cur.fetchall()}


def challenge_row(conn: psycopg.Connection, challenge_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM auth.mfa_challenges WHERE id = %s", (challenge_id,))
        return cur.fetchone()


def amr_methods(conn: psycopg.Connection, session_id: str) -> set[str]:
    rows = conn.execute(
        "SELECT authentication_method FROM auth.mfa_amr_claims WHERE session_id = %s",
        (session_id,),
    ).fetchall()
    return {str(r[0]) for r in rows}


@dataclasses.dataclass(frozen=True)
class DeviceSession:
    """One session of a user, as an account page lists it."""

    session_id: str
    age: float  # seconds since sign-in
    aal: str
    last_refresh_age: float | None  # seconds since the last refresh; None: never refreshed
    user_agent: str


@dataclasses.dataclass(frozen=True)
class SessionSummary:
    """One user's sessions: how many, the age of the oldest and newest (seconds), and each
    session (newest first)."""

    user_id: str
    count: int
    oldest_age: float
    newest_age: float
    devices: tuple[DeviceSession, ...] = ()


def session_report(
    conn: psycopg.Connection, user_ids: list[str], now: dt.datetime | None = None
) -> dict[str, SessionSummary]:
    """Sessions per user across devices (users without one are absent): count, age, level,
    last refresh and user agent of each, ages measured from `now` (the database's clock by
    default)."""
    rows = conn.execute(
        "SELECT user_id::text, id::text, created_at, aal::text, refreshed_at, "
        "coalesce(user_agent, ''), now() FROM auth.sessions "
        "WHERE user_id = ANY(%s::uuid[]) ORDER BY created_at DESC",
        (user_ids,),
    ).fetchall()
    by_user: dict[str, list[DeviceSession]] = {}
    for uid, sid, created, aal, refreshed, agent, db_now in rows:
        at = now or db_now
        refreshed_age = None if refreshed is None else (
            at.replace(tzinfo=None) - refreshed.replace(tzinfo=None)).total_seconds()
        by_user.setdefault(uid, []).append(DeviceSession(
            sid, (at - created).total_seconds(), aal or "aal1", refreshed_age, agent))
    return {
        uid: SessionSummary(uid, len(devices), max(d.age for d in devices),
                            min(d.age for d in devices), tuple(devices))
        for uid, devices in by_user.items()
    }

"""Running the private channel matrix as Realtime Authorization runs it.

Receive: in one transaction the connection's own role inserts a broadcast and a presence row
of realtime.messages for the topic, then takes the user's role, claims and headers and the
topic as `realtime.topic` (all local to the transaction) and selects those two rows back: a
row it sees is that extension allowed. Send: with the same settings the user inserts a row per
extension, each in a savepoint; an insufficient_privilege error is a refusal. Both transactions
are rolled back. Any other error is recorded as the cell's answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import psycopg
from psycopg import errors

from soberharness.db import session as db_session
from soberharness.db.claims import claims_for
from soberharness.records.channels import ChannelAnswer, ChannelCell
from soberharness.world.entities import Viewer

STATEMENT_TIMEOUT = "10s"
CONNECT_TIMEOUT = 10
_AS_USER = ("SELECT set_config('role', %s, true), set_config('realtime.topic', %s, true), "
            "set_config('request.jwt.claims', %s, true), set_config('request.headers', '{}', true)")
_SEED = ("INSERT INTO realtime.messages (topic, extension) VALUES (%s, 'broadcast'), "
         "(%s, 'presence') RETURNING id, extension")
_READ_BACK = "SELECT extension FROM realtime.messages WHERE topic = %s AND id = ANY(%s)"
_SEND = "INSERT INTO realtime.messages (topic, extension) VALUES (%s, %s)"


def has_messages_table(conn: psycopg.Connection) -> bool:
    """Does the database have realtime.messages (made by Realtime or the local bootstrap)?"""
    row = conn.execute("SELECT to_regclass('realtime.messages') IS NOT NULL").fetchone()
    return bool(row and row[0])


def run_channels(dsn: str, cells: Sequence[tuple[Viewer, ChannelCell]]) -> list[ChannelAnswer]:
    """Every cell's answer, asked in rolled-back transactions on one connection."""
    groups: dict[tuple[Viewer, str], list[ChannelCell]] = {}
    for viewer, cell in cells:
        groups.setdefault((viewer, cell.topic), []).append(cell)
    answers: list[ChannelAnswer] = []
    with db_session.connect(dsn, connect_timeout=CONNECT_TIMEOUT) as conn:
        conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        conn.commit()
        for (viewer, topic), group in groups.items():
            settings = (viewer.role.value, topic, json.dumps(claims_for(viewer)))
            received = _receive(conn, topic, settings)
            sent = _send(conn, topic, settings, {c.extension for c in group if c.op == "write"})
            for cell in group:
                got = received if cell.op == "read" else sent
                allowed, error = got.get(cell.extension, (False, ""))
                answers.append(ChannelAnswer(cell, allowed, error))
    return answers


Outcomes = dict[str, tuple[bool, str]]


def _receive(conn: psycopg.Connection, topic: str, settings: tuple[str, str, str]) -> Outcomes:
    try:
        ids = {ext: mid for mid, ext in conn.execute(_SEED, (topic, topic)).fetchall()}
        conn.execute(_AS_USER, settings)
        seen = {r[0] for r in conn.execute(_READ_BACK, (topic, list(ids.values()))).fetchall()}
        return {ext: (ext in seen, "") for ext in ids}
    except psycopg.Error as exc:
        return {ext: (False, _line(exc)) for ext in ("broadcast", "presence")}
    finally:
        conn.rollback()


def _send(conn: psycopg.Connection, topic: str, settings: tuple[str, str, str],
          extensions: set[str]) -> Outcomes:
    out: Outcomes = {}
    try:
        conn.execute(_AS_USER, settings)
        for ext in sorted(extensions):
            try:
                with conn.transaction():
                    conn.execute(_SEND, (topic, ext))
                out[ext] = (True, "")
            except errors.InsufficientPrivilege:
                out[ext] = (False, "")
            except psycopg.Error as exc:
                out[ext] = (False, _line(exc))
    finally:
        conn.rollback()
    return out


def _line(exc: psycopg.Error) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__

"""A token GoTrue issued, applied to the database the way PostgREST applies it.

PostgREST verifies the JWT with the shared secret, switches to its `role` claim and sets
`request.jwt.claims` to the payload as it is. `claims_from_token` does the verification
(HS256 only: `alg=none`, a tampered payload or signature, an expired token or a foreign
audience are refused), `viewer_from_claims` reads the facts the access model needs, and
`rows_seen_with_token` reads every world table with exactly those claims.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import psycopg
from psycopg import sql

from soberharness.access.model import AccessModel, Key
from soberharness.checker.visibility import VisibilityDiff, world_keys
from soberharness.clients.postgrest_sql import request_settings
from soberharness.errors import HarnessError
from soberharness.records.outcome import Outcome
from soberharness.runner.visibility import observed
from soberharness.world.entities import Role, Viewer, World

ALGORITHMS = ("HS256",)


class TokenRejected(Exception):
    """The token would not pass PostgREST's verification: one line saying why."""


class ClaimsError(HarnessError):
    """Verified claims the harness cannot read as a viewer (e.g. an empty `role`)."""


def claims_from_token(token: str, secret: str, audience: str = "authenticated") -> dict[str, Any]:
    """The verified payload of `token`; raises TokenRejected when PostgREST would refuse it."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=list(ALGORITHMS),
            audience=audience,
            options={"require": ["exp", "role"]},
        )
    except jwt.PyJWTError as exc:
        raise TokenRejected(f"{type(exc).__name__}: {exc}") from None
    return claims


def viewer_from_claims(claims: dict[str, Any]) -> Viewer:
    """Who the claims say is asking: role, user id, moderator flag, assurance level."""
    raw = claims.get("role")
    if raw in (None, ""):
        raise ClaimsError(
            f"the token's `role` claim is {raw!r}: GoTrue issues such tokens when "
            "GOTRUE_JWT_DEFAULT_GROUP_NAME is not set; set it to 'authenticated' on the "
            "auth service"
        )
    try:
        role = Role(str(raw))
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ClaimsError(f"the token's `role` claim {raw!r} is none of {known}") from None
    if role is not Role.AUTHENTICATED:
        return Viewer(role)
    app_metadata = claims.get("app_metadata") or {}
    aal = "aal2" if claims.get("aal") == "aal2" else "aal1"
    return Viewer(
        Role.AUTHENTICATED,
        uuid.UUID(str(claims["sub"])),
        moderator=app_metadata.get("role") == "moderator",
        aal=aal,
    )


def rows_seen_with_token(
    conn: psycopg.Connection, token: str, secret: str
) -> tuple[Viewer, dict[str, set[Key]]]:
    """Verify the token, then read every world table with exactly its claims.

    Runs inside the connection's current transaction (leaves the role reset to the
    session's); the caller owns the transaction.
    """
    claims = claims_from_token(token, secret)
    viewer = viewer_from_claims(claims)
    return viewer, observed(conn, viewer, claims=claims)


def compare_with_tokens(
    conn: psycopg.Connection, world: World, tokens: dict[uuid.UUID, str], secret: str
) -> list[VisibilityDiff]:
    """For each user's token: the rows of `world` it reads against what the access model
    allows that user. The world must already be written (in the caller's transaction)."""
    model = AccessModel(world)
    ours = world_keys(world)
    diffs: list[VisibilityDiff] = []
    for user_id, token in tokens.items():
        viewer, seen = rows_seen_with_token(conn, token, secret)
        if viewer.user_id != user_id:
            raise TokenRejected(f"the token given for {user_id} is for {viewer.user_id}")
        expected = model.visible(viewer)
        for table, keys in ours.items():
            want = set(expected.get(table, set()))
            got = seen[table] & keys
            if want != got:
                diffs.append(VisibilityDiff(viewer, table, frozenset(want - got),
                                            frozenset(got - want)))
    return diffs


def run_with_token(
    conn: psycopg.Connection, token: str, secret: str, statement: sql.Composable,
    method: str = "POST", path: str = "/rest/v1/",
) -> Outcome:
    """One statement with the token's claims, as PostgREST runs a request, inside a savepoint
    of the caller's transaction (an error rolls back to it; nothing else is undone)."""
    claims = claims_from_token(token, secret)
    viewer = viewer_from_claims(claims)
    try:
        with conn.transaction():
            conn.execute(request_settings(viewer, method, path, claims=claims).as_bytes(conn))
            cur = conn.execute(statement.as_bytes(conn))
            rows = cur.fetchall() if cur.description else []
            conn.execute("SET LOCAL ROLE NONE")
            return Outcome(rows, cur.rowcount)
    except psycopg.Error as exc:
        state = exc.sqlstate or "?"
        return Outcome([], 0, f"{state}: {(exc.diag.message_primary or str(exc)).strip()}")

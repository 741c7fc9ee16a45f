"""Calling the edge functions as every matrix actor, and reading back what they changed.

The actors are the access matrix's (`world/matrix_world.py` ACTORS): `self` once per owner
privacy level (the owner O_p), the shared actors once. Every signed-in actor calls with each
token variant of `workload/claims.py` (plain and forged, aal1 and aal2), its session's `aal`
being the variant's; anon and service call with the stack's API-key shaped tokens.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import jwt
import psycopg
from psycopg import sql

from soberharness.checker.functions import FunctionCall, OutboxEvent
from soberharness.clients.functions import FunctionsClient
from soberharness.db.claims import TOKEN_VARIANTS, TokenVariant, claims_for, sign, variant_claims
from soberharness.workload.bad_tokens import alg_none, expired
from soberharness.world.entities import Privacy, Role, Viewer
from soberharness.world.matrix_world import SHARED_ACTORS, MatrixWorld


@dataclasses.dataclass(frozen=True)
class Caller:
    """One actor with one token."""

    actor: str
    privacy: str  # "-" for the shared actors
    token_label: str  # "-" for anon and service
    viewer: Viewer
    token: str


def _token(mw: MatrixWorld, viewer: Viewer, variant: TokenVariant, secret: str) -> str:
    user = mw.world.users.get(viewer.user_id) if viewer.user_id else None
    spoof = mw.users["stranger"] if user is not None and user.moderator else mw.users["moderator"]
    return sign(variant_claims(viewer, variant, user.email if user else None, spoof.email), secret)


def callers(mw: MatrixWorld, secret: str, variants: tuple[TokenVariant, ...] = TOKEN_VARIANTS
            ) -> Iterator[Caller]:
    """Every matrix actor with every token variant (anon and service: their one token)."""
    people: list[tuple[str, str, Viewer]] = [
        ("self", p.value, Viewer.of(mw.owners[p])) for p in Privacy
    ]
    people += [(a, "-", mw.actors[a]) for a in SHARED_ACTORS]
    for actor, privacy, viewer in people:
        if viewer.role is not Role.AUTHENTICATED:
            yield Caller(actor, privacy, "-", viewer, sign(claims_for(viewer), secret))
            continue
        for variant in variants:
            session = dataclasses.replace(viewer, aal=variant.aal)
            yield Caller(actor, privacy, variant.label, session,
                         _token(mw, session, variant, secret))


def call_as(client: FunctionsClient, function: str, caller: Caller, *, method: str = "POST",
            params: dict[str, str] | None = None, json: Any = None) -> FunctionCall:
    answer = client.call(function, caller.token, method=method, params=params, json=json)
    return FunctionCall(function, caller.actor, caller.privacy, caller.token_label,
                        caller.viewer, answer.status, answer.body)


def export_calls(client: FunctionsClient, mw: MatrixWorld, secret: str) -> list[FunctionCall]:
    """export-my-data as every actor with every token variant."""
    return [call_as(client, "export-my-data", c) for c in callers(mw, secret)]


def milestone_calls(
    client: FunctionsClient, mw: MatrixWorld, secret: str, at: dt.datetime
) -> list[tuple[FunctionCall, uuid.UUID]]:
    """milestones of each owner O_p, asked by every actor (token variants rotated)."""
    out: list[tuple[FunctionCall, uuid.UUID]] = []
    all_callers = list(callers(mw, secret))
    for pi, p in enumerate(Privacy):
        target = mw.owners[p].id
        for ci, caller in enumerate(all_callers):
            if caller.actor == "self" and caller.privacy != p.value:
                continue
            if caller.token_label != "-" and (ci + pi) % len(TOKEN_VARIANTS):
                continue  # one token variant per actor and target, rotated
            call = call_as(client, "milestones", caller, method="GET",
                           params={"user": str(target), "at": at.isoformat()})
            out.append((dataclasses.replace(call, privacy=p.value), target))
    return out


# ------------------------------------------------------------------------ refused tokens


def refused_tokens(viewer: Viewer, secret: str) -> dict[str, str | None]:
    """Tokens the main service must refuse (401), by name; None: no Authorization header."""
    claims = claims_for(viewer)
    good = sign(claims, secret)
    now = int(time.time())
    return {
        "expired": expired(good, secret),
        "wrong key": sign(claims, secret + "-not-the-stack's"),
        "alg none": alg_none(good),
        "alg HS512": _hs512(claims, secret),
        "wrong audience": sign(claims | {"aud": "someone-else"}, secret),
        "no expiry": sign({k: v for k, v in claims.items() if k != "exp"}, secret),
        "not yet valid": sign(claims | {"nbf": now + 3600}, secret),
        "unknown role": sign(claims | {"role": "supabase_admin"}, secret),
        "missing": None,
    }


def _hs512(claims: dict[str, Any], secret: str) -> str:
    with warnings.catch_warnings():  # a short secret for SHA-512: the point is the algorithm
        warnings.simplefilter("ignore")
        return jwt.encode(claims, secret, algorithm="HS512")


# ------------------------------------------------------------------ what the database holds

_FINGERPRINT = (
    "auth.users", "public.profiles", "public.follows", "public.blocks", "public.posts",
    "public.videos", "public.comments", "public.likes", "public.account_deletion_requests",
    "storage.objects", "private.notification_outbox", "private.notifications",
)


def fingerprint(conn: psycopg.Connection) -> dict[str, Any]:
    """Row counts of the tables functions touch, and how many outbox events were processed."""
    out: dict[str, Any] = {}
    for table in _FINGERPRINT:
        row = conn.execute(sql.SQL("select count(*) from {}").format(
            sql.Identifier(*table.split(".")))).fetchone()
        out[table] = row[0] if row else 0
    row = conn.execute(
        "select count(*) from private.notification_outbox where processed_at is not null"
    ).fetchone()
    out["outbox processed"] = row[0] if row else 0
    return out


def outbox_events(conn: psycopg.Connection, users: list[uuid.UUID]) -> list[OutboxEvent]:
    """The outbox events between `users` (both sides among them), in order."""
    rows = conn.execute(
        "select id, kind, actor_id, recipient_id, source_table, source_id "
        "from private.notification_outbox "
        "where actor_id = any(%s) and recipient_id = any(%s) order by id",
        (users, users),
    ).fetchall()
    return [OutboxEvent(*row) for row in rows]


def delivered_counts(conn: psycopg.Connection, event_ids: list[int]) -> dict[int, int]:
    rows = conn.execute(
        "select event_id, count(*) from private.notifications where event_id = any(%s) "
        "group by event_id", (event_ids,),
    ).fetchall()
    return {int(event): int(n) for event, n in rows}


def pending_events(conn: psycopg.Connection, event_ids: list[int]) -> int:
    row = conn.execute(
        "select count(*) from private.notification_outbox "
        "where id = any(%s) and processed_at is null", (event_ids,),
    ).fetchone()
    return row[0] if row else 0


# --------------------------------------------------------------------------- row names


def row_names(mw: MatrixWorld) -> dict[str, str]:
    """Readable names of the matrix world's rows, keyed as the checker keys them (ids as
    text, follow/block pairs 'a>b', objects 'bucket/name')."""
    names: dict[str, str] = {str(u.id): f"O_{p.value}" for p, u in mw.owners.items()}
    names |= {str(u.id): actor for actor, u in mw.users.items()}
    for field in dataclasses.fields(mw):
        value = getattr(mw, field.name)
        if field.name in ("world", "owners", "actors", "users", "run_id"):
            continue
        for key, entity in value.items():
            label = key.value if isinstance(key, Privacy) else str(key)
            items = entity.items() if isinstance(entity, dict) else [("", entity)]
            for sub, row in items:
                name = f"{field.name}/{label}" + (f"/{sub}" if sub else "")
                if hasattr(row, "bucket"):
                    names.setdefault(f"{row.bucket}/{row.name}", name)
                names.setdefault(str(getattr(row, "id", getattr(row, "user", ""))), name)
    for pair in [*mw.world.follows, *mw.world.blocks]:
        a, b = dataclasses.astuple(pair)[:2]
        names[f"{a}>{b}"] = f"{names.get(str(a), a)}>{names.get(str(b), b)}"
    return names


# ----------------------------------------------------------------------- deletion worker


def world_rows(conn: psycopg.Connection, users: list[uuid.UUID]) -> set[tuple[str, str]]:
    """Every row touching `users` (by owner/party column), as (table, key): what a deletion
    may change and what it must leave alone."""
    queries = {
        "profiles": "select id::text from public.profiles where id = any(%s)",
        "posts": "select id::text from public.posts where author_id = any(%s)",
        "videos": "select id::text from public.videos where owner_id = any(%s)",
        "comments": "select c.id::text from public.comments c left join public.posts p "
                    "on p.id = c.post_id left join public.videos v on v.id = c.video_id "
                    "where c.author_id = any(%s) or p.author_id = any(%s) "
                    "or v.owner_id = any(%s)",
        "likes": "select l.id::text from public.likes l left join public.posts p "
                 "on p.id = l.post_id left join public.videos v on v.id = l.video_id "
                 "where l.user_id = any(%s) or p.author_id = any(%s) or v.owner_id = any(%s)",
        "follows": "select follower_id || '>' || followee_id from public.follows "
                   "where follower_id = any(%s) or followee_id = any(%s)",
        "blocks": "select blocker_id || '>' || blocked_id from public.blocks "
                  "where blocker_id = any(%s) or blocked_id = any(%s)",
        "account_deletion_requests": "select user_id::text from "
                                     "public.account_deletion_requests where user_id = any(%s)",
        "objects": "select bucket_id || '/' || name from storage.objects "
                   "where split_part(name, '/', 1) = any(%s::text[])",
        "auth.users": "select id::text from auth.users where id = any(%s)",
    }
    rows: set[tuple[str, str]] = set()
    for table, query in queries.items():
        args = (users,) * query.count("%s")
        arg_list = [list(map(str, a)) if table == "objects" else a for a in args]
        for (key,) in conn.execute(query, arg_list).fetchall():  # type: ignore[arg-type]
            rows.add((table, key))
    return rows

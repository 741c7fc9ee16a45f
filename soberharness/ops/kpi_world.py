"""A small SoberTube world for the KPI panels (stack/monitoring/dashboards/sobertube-kpis.json),
inserted as the database's owner into the database the postgres exporter reads, on a stack
that held nothing before. What each KPI panel must then show is written out by hand below
(EXPECTED), from the rows, never computed by the views under test.

The rows (d = days ago):
- accounts: ana (created now, signed in now), ben (created now, never signed in), cal
  (created 3 d ago, signed in 3 d ago; private profile);
- posts: ben's two of now (one hidden by a moderator), cal's one of 3 d ago;
- follows: ana -> ben accepted, cal -> ana accepted, ben -> cal pending (cal is private).
"""

from __future__ import annotations

from typing import Any

ANA = "a0000000-0000-4000-8000-00000000000a"
BEN = "b0000000-0000-4000-8000-00000000000b"
CAL = "c0000000-0000-4000-8000-00000000000c"

_ROWS = [
    ("insert into auth.users (id, aud, role, email, created_at, last_sign_in_at) values "
     f"('{ANA}', 'authenticated', 'authenticated', 'ana@kpi.invalid', now(), now()), "
     f"('{BEN}', 'authenticated', 'authenticated', 'ben@kpi.invalid', now(), null), "
     f"('{CAL}', 'authenticated', 'authenticated', 'cal@kpi.invalid', now() - interval '3 days', "
     "now() - interval '3 days')"),
    ("insert into public.profiles (id, handle, privacy, created_at) values "
     f"('{ANA}', 'kpi_ana', 'public', now()), ('{BEN}', 'kpi_ben', 'community', now()), "
     f"('{CAL}', 'kpi_cal', 'private', now() - interval '3 days')"),
    ("insert into public.posts (author_id, body, created_at, hidden_at) values "
     f"('{BEN}', 'day one', now(), null), ('{BEN}', 'hidden one', now(), now()), "
     f"('{CAL}', 'old one', now() - interval '3 days', null)"),
    ("insert into public.follows (follower_id, followee_id, status) values "
     f"('{ANA}', '{BEN}', 'accepted'), ('{CAL}', '{ANA}', 'accepted'), "
     f"('{BEN}', '{CAL}', 'pending')"),
]

# KPI panel title -> its value once the rows above are in (and nothing else is).
EXPECTED: dict[str, float] = {
    "Sign-ups (all time)": 3,  # ana, ben, cal
    "Sign-ups (24 h)": 2,  # ana, ben
    "Posts (all time)": 3,  # hidden and old ones count
    "Posts (24 h)": 2,  # ben's two
    "Active users (24 h)": 2,  # ana signed in, ben posted; cal did nothing today
    "Follows (accepted)": 2,  # ana -> ben, cal -> ana
    "Follow requests (pending)": 1,  # ben -> cal
}


def insert(conn: Any) -> None:
    """The rows, in one transaction, on an autocommit psycopg connection of a superuser."""
    with conn.transaction():
        for statement in _ROWS:
            conn.execute(statement)

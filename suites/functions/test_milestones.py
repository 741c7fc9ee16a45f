"""milestones of each owner as every matrix actor (shown under the profile's privacy rules),
and the badge arithmetic at time-zone and calendar edges, against an independent computation."""

from __future__ import annotations

import datetime as dt

import pytest

from soberharness.checker.functions import judge_milestone
from soberharness.clients.functions import FunctionsClient
from soberharness.db import session as db_session
from soberharness.workload.functions_calls import call_as, callers, milestone_calls
from soberharness.world.matrix_world import ACTORS, MatrixWorld

pytestmark = pytest.mark.needs("functions", "postgres")

AT = dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC)


def test_every_actor_sees_the_badge_the_rules_let_them_see(
    functions: FunctionsClient, fn_world: MatrixWorld, jwt_secret: str
) -> None:
    calls = milestone_calls(functions, fn_world, jwt_secret, AT)
    assert {c.actor for c, _ in calls} == set(ACTORS)
    assert {c.status for c, _ in calls} == {200, 404}, "both verdicts are met"
    findings = [f for c, target in calls for f in judge_milestone(c, fn_world.world, target, AT)]
    assert not findings, "\n".join(f.line() for f in findings)


# (sober since, time zone, instant) -> the badge the rules give; the instant is one moment
# that is a different calendar day east and west of UTC.
EDGES = [
    ("2026-06-30", "UTC", AT, None),
    ("2026-06-30", "Pacific/Kiritimati", AT, "days-1"),  # already 1 July there
    ("2026-06-24", "Pacific/Pago_Pago", AT, "days-1"),  # still 30 June there: day 6
    ("2026-06-24", "Asia/Tokyo", AT, "days-7"),  # 1 July there: day 7
    ("2025-12-31", "UTC", AT, "months-6"),  # 30 June is the month-end day of 31 Dec
    ("2024-02-29", "UTC", dt.datetime(2025, 2, 28, 12, tzinfo=dt.UTC), "years-1"),
    ("2020-01-01", "Europe/Paris", AT, "years-6"),
]


@pytest.mark.parametrize(("since", "zone", "at", "badge"), EDGES,
                         ids=[f"{s}-{z}" for s, z, _, _ in EDGES])
def test_badge_is_counted_in_the_users_time_zone(
    functions: FunctionsClient, fn_world: MatrixWorld, functions_dsn: str, jwt_secret: str,
    since: str, zone: str, at: dt.datetime, badge: str | None,
) -> None:
    owner = fn_world.owners[next(iter(fn_world.owners))]
    with db_session.connect(functions_dsn, autocommit=True) as conn:
        before = conn.execute("select sober_since, time_zone from public.profiles where id = %s",
                              (owner.id,)).fetchone()
        conn.execute("update public.profiles set sober_since = %s, time_zone = %s where id = %s",
                     (since, zone, owner.id))
    try:
        me = next(c for c in callers(fn_world, jwt_secret) if c.actor == "self")
        call = call_as(functions, "milestones", me, method="GET",
                       params={"user": str(owner.id), "at": at.isoformat()})
    finally:
        with db_session.connect(functions_dsn, autocommit=True) as conn:
            conn.execute("update public.profiles set sober_since = %s, time_zone = %s "
                         "where id = %s", (*before, owner.id))  # type: ignore[misc]
    assert call.status == 200, call.body
    got = call.body["badge"]["key"] if call.body["badge"] else None
    assert (got, call.body["time_zone"]) == (badge, zone)

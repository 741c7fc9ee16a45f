"""Session limits (seed 3.3.2-3.3.3) as the target's GoTrue is configured: time-box,
inactivity timeout, one session per user, and the per-user session report across devices.

Each limit is tested where the target sets it (target file [settings], the compose file):
GoTrue has none by default, and a short one would end the other tests' sessions, so a target
for these runs with short values (e.g. GOTRUE_SESSIONS_TIMEBOX=8s,
GOTRUE_SESSIONS_INACTIVITY_TIMEOUT=5s, GOTRUE_SESSIONS_SINGLE_PER_USER=true). Waiting is
bounded: a limit longer than MAX_WAIT seconds is not waited out.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from soberharness.checker.auth_state import session_report, sessions_of
from soberharness.clients.gotrue import GoTrueClient
from soberharness.targets.base import Target
from soberharness.workload.auth_target import PASSWORD, TestUsers, auth_flag, auth_seconds
from soberharness.workload.flow import Flow, refused

TIMEBOX = "GOTRUE_SESSIONS_TIMEBOX"
INACTIVITY = "GOTRUE_SESSIONS_INACTIVITY_TIMEOUT"
SINGLE = "GOTRUE_SESSIONS_SINGLE_PER_USER"
MAX_WAIT = 30.0


def _short(target: Target, name: str) -> float:
    seconds, setting = auth_seconds(target, name)
    if not seconds:
        pytest.skip(f"target '{target.name}': its 'auth' service has no such limit: {setting}")
    if seconds > MAX_WAIT:
        pytest.skip(f"target '{target.name}': {setting} is longer than the {MAX_WAIT:g} s a "
                    "test waits")
    return seconds


def _expired(auth_client: GoTrueClient, refresh_token: str) -> None:
    error = refused(lambda: auth_client.refresh(refresh_token))
    assert (error.status, error.code) == (400, "session_expired"), error


@pytest.mark.needs("auth", "postgres")
def test_a_session_ends_at_its_time_box(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    box = _short(target, TIMEBOX)
    flow = Flow(f"session time-box ({box:g} s)")
    user = users.confirmed("timebox")
    with flow.step("sign in and refresh within the box"):
        began = time.monotonic()
        session = auth_client.refresh(
            auth_client.sign_in_password(user.email, PASSWORD).refresh_token)
    with flow.step("refreshing past the box is refused, however active the session"):
        while time.monotonic() - began < box + 1.0:
            if time.monotonic() - began < box - 2.0:  # activity does not extend a time-box
                session = auth_client.refresh(session.refresh_token)
            time.sleep(0.5)
        _expired(auth_client, session.refresh_token)


@pytest.mark.needs("auth", "postgres")
def test_an_idle_session_ends_after_the_inactivity_timeout(
    target: Target, auth_client: GoTrueClient, users: TestUsers
) -> None:
    idle = _short(target, INACTIVITY)
    box, box_setting = auth_seconds(target, TIMEBOX)
    if box and box < 2 * idle + 2:
        pytest.skip(f"target '{target.name}': its time-box would end the session before an "
                    f"inactivity test of {INACTIVITY} ({idle:g} s) can: {box_setting}")
    flow = Flow(f"session inactivity timeout ({idle:g} s)")
    user = users.confirmed("idle")
    with flow.step("a refresh within the timeout keeps the session alive"):
        session = auth_client.sign_in_password(user.email, PASSWORD)
        time.sleep(idle / 2)
        session = auth_client.refresh(session.refresh_token)
        time.sleep(idle / 2 + 0.5)
        session = auth_client.refresh(session.refresh_token)
    with flow.step("idle past the timeout: refused"):
        time.sleep(idle + 1.0)
        _expired(auth_client, session.refresh_token)


@pytest.mark.needs("auth", "postgres")
def test_one_session_per_user_keeps_only_the_newest_device(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    single, setting = auth_flag(target, SINGLE)
    if not single:
        pytest.skip(f"target '{target.name}': its 'auth' service allows several sessions per "
                    f"user: {setting}")
    flow = Flow("one session per user")
    user = users.confirmed("single")
    with flow.step("the phone, then the laptop signs in"):
        phone = auth_client.sign_in_password(user.email, PASSWORD)
        time.sleep(1.1)  # GoTrue compares sessions by their last refresh time
        laptop = auth_client.sign_in_password(user.email, PASSWORD)
    with flow.step("the phone's refresh is refused, the laptop's works"):
        _expired(auth_client, phone.refresh_token)
        auth_client.refresh(laptop.refresh_token)


@pytest.mark.needs("auth", "postgres")
def test_the_session_report_lists_each_device(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers
) -> None:
    """Seed 3.3.2: per user across devices, the count, age, level, last refresh and user
    agent of each session."""
    single, setting = auth_flag(target, SINGLE)
    if single:
        pytest.skip(f"target '{target.name}' keeps one session per user: {setting}")
    flow = Flow("session report")
    user = users.confirmed("report")
    agents = ("SoberTube-iOS/4.2", "SoberTube-Web/2026.12")
    with flow.step("two devices sign in, one refreshes"):
        phone_client, web_client = (auth_client.with_headers(user_agent=a) for a in agents)
        try:
            phone = phone_client.sign_in_password(user.email, PASSWORD)
            web_client.sign_in_password(user.email, PASSWORD)
            phone_client.refresh(phone.refresh_token)
        finally:
            phone_client.close()
            web_client.close()
    with flow.step("the report"):
        report = session_report(auth_db, [user.id])[user.id]
        assert report.count == 2 == len(sessions_of(auth_db, user.id))
        by_agent = {d.user_agent: d for d in report.devices}
        assert set(by_agent) == set(agents), by_agent
        assert all(d.aal == "aal1" and d.age >= 0 for d in report.devices)
        assert by_agent[agents[0]].last_refresh_age is not None
        assert report.oldest_age >= report.newest_age

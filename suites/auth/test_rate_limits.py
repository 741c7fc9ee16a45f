"""Rate limits (seed 5.2.2) as the target's GoTrue is configured, each pushed past its value:
refused with 429, and served again once the limit has room.

- E-mail sends: GOTRUE_RATE_LIMIT_EMAIL_SENT, global to the service. Tested where it is a
  short burst rate ("N/duration", e.g. 3/10s): GoTrue's default, 30 per hour, cannot be
  waited out in a test.
- Per client: token refreshes, verifications and sign-ups (GOTRUE_RATE_LIMIT_TOKEN_REFRESH,
  _VERIFY, _OTP per 5 minutes, over a burst of 30). GoTrue keys them by the header named in
  GOTRUE_RATE_LIMIT_HEADER (what the gateway sets) and applies none without it; each test
  sends its own client address in that header, so no other test shares its budget.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from soberharness.clients.gotrue import GoTrueClient, GoTrueError
from soberharness.targets.base import Target
from soberharness.targets.service_settings import go_duration
from soberharness.workload.auth_target import PASSWORD, TestUsers, auth_number, auth_setting
from soberharness.workload.flow import Flow

BURST = 30  # GoTrue's burst for the per-client limits (internal/api/options.go)
MAX_WAIT = 30.0
PER_CLIENT = {
    "token refresh": "GOTRUE_RATE_LIMIT_TOKEN_REFRESH",
    "verify": "GOTRUE_RATE_LIMIT_VERIFY",
    "sign-up": "GOTRUE_RATE_LIMIT_OTP",
}


def _client_address() -> str:
    """A documentation-range address (never contacted: it only names a client in a header)."""
    n = uuid.uuid4().int
    return f"203.0.113.{n % 254 + 1}, 198.51.100.{(n >> 8) % 254 + 1}"


def _attempt(kind: str, client: GoTrueClient) -> Callable[[], None]:
    if kind == "token refresh":
        return lambda: client.refresh(f"not-a-token-{uuid.uuid4().hex}")
    if kind == "verify":
        return lambda: client.verify_otp("signup", uuid.uuid4().hex)
    return lambda: client.signup(f"rl-{uuid.uuid4().hex[:10]}@example.invalid", "x")


def _status(call: Callable[[], None]) -> int:
    try:
        call()
    except GoTrueError as exc:
        return exc.status
    return 200


@pytest.mark.needs("auth")
@pytest.mark.parametrize("kind", sorted(PER_CLIENT))
def test_per_client_limit_refuses_past_its_rate_and_recovers(
    target: Target, auth_client: GoTrueClient, kind: str
) -> None:
    setting = auth_setting(target, "GOTRUE_RATE_LIMIT_HEADER")
    header = setting.value
    if not header:
        pytest.skip(f"target '{target.name}': GoTrue applies no per-client limits without a "
                    f"header to key them by: {setting}")
    per_5_min, rate = auth_number(target, PER_CLIENT[kind])
    refill = 300.0 / per_5_min  # seconds until the bucket has room for one more request
    flow = Flow(f"{kind} rate limit ({rate} per 5 min, burst {BURST}; {setting})")
    client = auth_client.with_headers(**{header.replace("-", "_"): _client_address()})
    try:
        with flow.step("push past the burst"):
            statuses = [_status(_attempt(kind, client)) for _ in range(BURST + 5)]
            first = statuses.index(429) if 429 in statuses else None
            assert first is not None, f"no 429 in {len(statuses)} requests: {statuses}"
            assert first >= BURST - 1, f"refused after only {first} requests"
        if refill > MAX_WAIT:
            return  # the refusal is proven; its recovery would take too long to wait for
        with flow.step(f"served again after {refill:.1f} s"):
            time.sleep(refill + 1.0)
            assert _status(_attempt(kind, client)) != 429
    finally:
        client.close()


@pytest.mark.needs("auth", "mail")
def test_email_sends_stop_at_the_limit_and_resume_after_the_window(
    target: Target, auth_client: GoTrueClient, users: TestUsers
) -> None:
    setting = auth_setting(target, "GOTRUE_RATE_LIMIT_EMAIL_SENT")
    if "/" not in setting.value:
        pytest.skip(f"target '{target.name}': e-mail sends are limited per hour (GoTrue's "
                    f"interval rate), too long to wait out: {setting}; a test target declares "
                    "a burst rate such as 3/10s")
    events, window = setting.value.split("/", 1)
    limit, seconds = int(events), go_duration(window)
    if seconds > MAX_WAIT:
        pytest.skip(f"target '{target.name}': the e-mail window is longer than {MAX_WAIT:g} s: "
                    f"{setting}")
    flow = Flow(f"e-mail send limit ({setting})")
    with flow.step("a fresh window"):
        time.sleep(seconds + 0.5)
    with flow.step(f"{limit} sign-up mails go out, one more is refused"):
        for _ in range(limit):
            users.track(auth_client.signup(users.email("rl-mail"), PASSWORD).user)
        with pytest.raises(GoTrueError) as refused:
            auth_client.signup(users.email("rl-mail"), PASSWORD)
        assert (refused.value.status, refused.value.code) == (
            429, "over_email_send_rate_limit"), refused.value
    with flow.step("after the window, mail goes out again"):
        time.sleep(seconds + 0.5)
        users.track(auth_client.signup(users.email("rl-mail"), PASSWORD).user)

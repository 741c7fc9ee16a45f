"""Guard rails: destructive suites refused where not opted in; secrets masked in text."""

from __future__ import annotations

from typing import Any

import pytest

from soberharness.config.envcheck import make_api_key
from soberharness.errors import DestructiveRefused
from soberharness.records.redact import MASK, redact
from soberharness.targets.base import Keys, Service, Target
from soberharness.targets.guard import check_destructive
from soberharness.targets.remote import RemoteTarget, parse_target_config


class StubTarget(Target):
    """A target that only carries kind, name and opt-in (the guard reads nothing else)."""

    def __init__(self, kind: str, name: str = "t", allows: bool = False) -> None:
        self.kind, self.name, self.labels, self.allows_destructive = kind, name, {}, allows

    services = frozenset[Service]()  # type: ignore[assignment]
    keys = Keys(jwt_secret=None)  # type: ignore[assignment]

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def url(self, service: Service) -> str:
        raise AssertionError

    def admin_dsn(self, database: str | None = None) -> str:
        raise AssertionError


def remote(allowed: bool, name: str = "prod-eu") -> RemoteTarget:
    data: dict[str, Any] = {"name": name, "destructive": {"allowed": allowed}}
    return RemoteTarget(parse_target_config(data), environ={})


@pytest.mark.parametrize("kind", ["local", "containers"])
def test_own_targets_allow_destructive_without_confirmation(kind: str) -> None:
    check_destructive(StubTarget(kind), None)  # does not raise


def test_remote_without_opt_in_refused_even_with_confirmation() -> None:
    with pytest.raises(DestructiveRefused, match=r"does not set \[destructive\] allowed = true"):
        check_destructive(remote(False), "prod-eu")


def test_remote_opted_in_needs_confirmation() -> None:
    with pytest.raises(DestructiveRefused, match="no confirmation; confirm with the target's name"):
        check_destructive(remote(True), None)


def test_remote_opted_in_with_wrong_name_refused() -> None:
    with pytest.raises(DestructiveRefused, match="confirmation 'prod'"):
        check_destructive(remote(True), "prod")


def test_remote_opted_in_and_confirmed_allowed() -> None:
    check_destructive(remote(True), "prod-eu")  # does not raise


def test_unknown_kind_refused() -> None:
    with pytest.raises(DestructiveRefused, match="unknown kind 'cloud'"):
        check_destructive(StubTarget("cloud", allows=True), "t")


def test_refusals_are_one_line() -> None:
    with pytest.raises(DestructiveRefused) as info:
        check_destructive(remote(True), "x")
    assert "\n" not in str(info.value)


# -- redaction -------------------------------------------------------------------------------

SECRET = "a-jwt-secret-that-is-long-enough-0123456789"
TOKEN = make_api_key(SECRET, "service_role", 2_000_000_000)


def test_given_secrets_masked() -> None:
    text = f"JWT secret is {SECRET}, twice: {SECRET}"
    assert redact(text, [SECRET]) == f"JWT secret is {MASK}, twice: {MASK}"


def test_any_jwt_masked_without_being_told() -> None:
    out = redact(f"GET /rest/v1/posts?apikey={TOKEN}&select=* -> 200; body {{'t': '{TOKEN}'}}")
    assert TOKEN not in out
    assert "eyJ" not in out
    assert "select=*" in out


def test_bearer_and_named_values_masked() -> None:
    out = redact(
        "Authorization: Bearer opaque-session-token-123 password=hunter22 "
        '{"refresh_token": "v3ry-s3cret"}'
    )
    assert "opaque-session-token-123" not in out
    assert "hunter22" not in out
    assert "v3ry-s3cret" not in out
    assert out.count(MASK) == 3


def test_passwords_in_connection_strings_masked() -> None:
    out = redact("postgresql://supabase_admin:p%40ss-w0rd@127.0.0.1:54322/postgres")
    assert out == f"postgresql://supabase_admin:{MASK}@127.0.0.1:54322/postgres"


def test_ordinary_text_untouched() -> None:
    text = "profiles: 12 rows visible to anon, 0 to a blocked user (policy profiles_select)"
    assert redact(text, ["", None, "abc"]) == text


def test_keys_secrets_list_feeds_redact() -> None:
    keys = Keys(jwt_secret=SECRET, anon_key="anon-opaque-key-1", service_key=TOKEN)
    out = redact(f"{SECRET} anon-opaque-key-1 {TOKEN}", keys.secrets())
    assert out == f"{MASK} {MASK} {MASK}"


def test_matrix_outcomes_survive_redaction() -> None:
    """A cell's label names its token variant; the report keeps its outcome (a label ending in
    the word "token" once made the redactor mask every outcome beside it)."""
    import json

    from soberharness.records.results import Cell, Op

    label = Cell("posts", Op.SELECT, "stranger", "public", "hidden", "forged aal2").label()
    text = redact(json.dumps({"outcomes": {label: "deny"}, "claims": "forged aal2"}))
    assert json.loads(text) == {"outcomes": {label: "deny"}, "claims": "forged aal2"}

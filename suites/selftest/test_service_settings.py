"""A service's setting is never assumed (issue 18, item 3): the target's declaration, else what
the service reports (GoTrue's GET /settings, asked of a protocol double here, as a remote
target would be), else the service's default at the version the stack pins; every value says
where it came from, and a setting the harness knows no default for is an error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from soberharness.errors import HarnessError
from soberharness.targets.base import Service
from soberharness.targets.containers import ContainersTarget
from soberharness.targets.migrations import REPO
from soberharness.targets.remote import RemoteTarget, parse_target_config
from soberharness.targets.service_settings import (
    GOTRUE_DEFAULTS,
    GOTRUE_DEFAULTS_READ_AT,
    GOTRUE_REPORTED,
    SourceKind,
    gotrue_settings,
)
from soberharness.testing.gotrue_protocol_double import GoTrueProtocolDouble, default_settings
from soberharness.workload.auth_target import (
    REUSE_INTERVAL,
    auth_flag,
    auth_seconds,
    auth_setting,
    reuse_interval,
)

KEYCLOAK = "GOTRUE_EXTERNAL_KEYCLOAK_ENABLED"
AUTOCONFIRM = "GOTRUE_MAILER_AUTOCONFIRM"
ANON = "anon-key-of-the-double"


@pytest.fixture
def double() -> Iterator[GoTrueProtocolDouble]:
    with GoTrueProtocolDouble() as started:
        yield started


def remote(double: GoTrueProtocolDouble, settings: dict[str, Any] | None = None) -> RemoteTarget:
    config = parse_target_config({
        "name": "settings-double", "urls": {"auth": double.url},
        "secrets": {"anon_key_env": "ANON", "service_key_env": "SERVICE"},
        "settings": settings or {},
    }, origin="settings-double.toml")
    return RemoteTarget(config, environ={"ANON": ANON, "SERVICE": "service-key"})


def test_an_undeclared_reuse_interval_is_gotrues_default_zero_with_its_source(
    double: GoTrueProtocolDouble,
) -> None:
    seconds, setting = reuse_interval(remote(double))
    assert seconds == 0, setting  # GoTrue's default: no default tag, unset is 0 (not 10 s)
    assert setting.kind is SourceKind.DEFAULT
    assert setting.describe() == (
        f"{REUSE_INTERVAL}=0 (from GoTrue's default at v2.186.0/v2.196.0 "
        "(internal/conf/configuration.go SecurityConfiguration.RefreshTokenReuseInterval: no "
        "default tag))")


def test_what_gotrue_reports_wins_over_its_default(double: GoTrueProtocolDouble) -> None:
    double.settings["external"]["keycloak"] = True
    double.settings["mailer_autoconfirm"] = True
    target = remote(double)
    enabled, setting = auth_flag(target, KEYCLOAK)
    assert enabled and setting.kind is SourceKind.REPORTED
    assert setting.source == f"GoTrue GET {double.url}/settings, external.keycloak"
    assert auth_flag(target, AUTOCONFIRM)[0]
    asked = [r for r in double.requests if r[1] == "/auth/v1/settings"]
    assert asked == [("GET", "/auth/v1/settings", ANON)], double.requests  # once, with apikey


def test_what_the_target_declares_wins_over_what_gotrue_reports(
    double: GoTrueProtocolDouble,
) -> None:
    double.settings["mailer_autoconfirm"] = True
    target = remote(double, {AUTOCONFIRM: False, "GOTRUE_SESSIONS_TIMEBOX": "8s"})
    enabled, setting = auth_flag(target, AUTOCONFIRM)
    assert not enabled
    assert setting.describe() == (f"{AUTOCONFIRM}=false (from target file "
                                  "settings-double.toml [settings])")
    assert auth_seconds(target, "GOTRUE_SESSIONS_TIMEBOX")[0] == 8.0


def test_an_unset_limit_says_unset_and_where_from(double: GoTrueProtocolDouble) -> None:
    seconds, setting = auth_seconds(remote(double), "GOTRUE_SESSIONS_TIMEBOX")
    assert seconds == 0
    assert setting.describe().startswith("GOTRUE_SESSIONS_TIMEBOX=unset (from GoTrue's default")


def test_a_setting_without_a_known_default_is_an_error_naming_it(
    double: GoTrueProtocolDouble,
) -> None:
    with pytest.raises(HarnessError, match=r"target 'settings-double': GOTRUE_NOT_A_SETTING: "
                       r"not declared .* knows no default"):
        auth_setting(remote(double), "GOTRUE_NOT_A_SETTING")


def test_a_gotrue_that_does_not_answer_settings_leaves_the_default() -> None:
    with GoTrueProtocolDouble() as double:
        target = remote(double)
    enabled, setting = auth_flag(target, KEYCLOAK)  # the double is gone: nothing answers
    assert not enabled and setting.kind is SourceKind.DEFAULT


def test_the_double_reports_what_gotrue_reports_by_default() -> None:
    """The double's defaults read back as GoTrue's own defaults: each reported setting's
    value equals its default in GOTRUE_DEFAULTS (they were read from the same source)."""
    reported = gotrue_settings({}, "nothing declared", default_settings())
    for name in GOTRUE_REPORTED:
        setting = reported.resolve(name)
        assert setting.kind is SourceKind.REPORTED, name
        if name in GOTRUE_DEFAULTS:
            assert setting.value == GOTRUE_DEFAULTS[name].value, setting


def test_containers_take_the_compose_env_as_declared() -> None:
    target = ContainersTarget(needs={Service.AUTH})
    known = gotrue_settings(target.settings, target.settings_source, None)
    autoconfirm = known.resolve(AUTOCONFIRM)  # ${ENABLE_EMAIL_AUTOCONFIRM} in the compose file
    assert autoconfirm.kind is SourceKind.DECLARED
    assert autoconfirm.source == "compose env (docker-compose.yml)"
    reuse = known.resolve(REUSE_INTERVAL)  # the compose file sets none
    assert (reuse.value, reuse.kind) == ("0", SourceKind.DEFAULT)


@pytest.mark.parametrize("path", ["stack/compose/docker-compose.yml", "stack/k8s/base/auth.yaml"])
def test_the_pinned_gotrue_is_a_version_its_defaults_were_read_at(path: str) -> None:
    """Moving the GoTrue pin to a version whose defaults nobody read fails here: read them in
    its source (internal/conf/configuration.go, internal/api/settings.go), then list it."""
    pins = re.findall(r"image:\s*supabase/gotrue:(\S+)", (REPO / path).read_text())
    assert pins, f"no supabase/gotrue image in {path}"
    for pin in pins:
        assert pin in GOTRUE_DEFAULTS_READ_AT, (
            f"{path} pins GoTrue {pin}; its defaults were read at {GOTRUE_DEFAULTS_READ_AT}")

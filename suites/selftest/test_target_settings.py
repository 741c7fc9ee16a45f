"""Targets say which behaviour-changing settings their services run with (Target.settings):
a remote target in its file's [settings] table, the containers target from the compose
file's environment. Suites read them (the auth suite's refresh reuse interval) instead of
assuming a value. Secrets never appear among them."""

from __future__ import annotations

from typing import Any

import pytest

from soberharness.targets.base import Service
from soberharness.targets.containers import ContainersTarget
from soberharness.targets.local import LocalTarget
from soberharness.targets.remote import RemoteTarget, TargetFileError, parse_target_config
from soberharness.targets.service_settings import SourceKind
from soberharness.workload.auth_target import REUSE_INTERVAL, reuse_interval


def remote(**overrides: Any) -> RemoteTarget:
    data: dict[str, Any] = {
        "name": "t1",
        "urls": {"auth": "http://127.0.0.1:1/auth/v1"},
        "secrets": {"anon_key_env": "ANON", "service_key_env": "SERVICE"},
    } | overrides
    return RemoteTarget(parse_target_config(data), environ={})


def test_a_target_file_declares_its_settings() -> None:
    target = remote(settings={REUSE_INTERVAL: 3, "GOTRUE_MAILER_AUTOCONFIRM": False})
    assert target.settings == {REUSE_INTERVAL: "3", "GOTRUE_MAILER_AUTOCONFIRM": "false"}
    seconds, setting = reuse_interval(target)
    assert seconds == 3
    assert setting.describe() == f"{REUSE_INTERVAL}=3 (from target file <target file> [settings])"


def test_gotrue_default_where_the_target_does_not_say() -> None:
    """GoTrue's own default, 0 (no `default` tag on RefreshTokenReuseInterval), never the 10 s
    the suite once assumed; the local target has no GoTrue to ask."""
    for target in (remote(), LocalTarget()):
        seconds, setting = reuse_interval(target)
        assert seconds == 0, setting
        assert setting.kind is SourceKind.DEFAULT
        assert "GoTrue's default at v2.186.0" in setting.source, setting


@pytest.mark.parametrize(("settings", "message"), [
    ({"lower_case": 1}, "settings.lower_case must be NAME = value"),
    ({"GOTRUE_X": [1, 2]}, "settings.GOTRUE_X must be NAME = value"),
    ({"GOTRUE_JWT_SECRET": "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9"}, "looks like a secret"),
])
def test_bad_settings_are_one_line_errors(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(TargetFileError, match=message):
        remote(settings=settings)


def test_containers_settings_come_from_the_compose_file_without_secrets() -> None:
    target = ContainersTarget(needs={Service.AUTH})
    settings = target.settings
    assert settings["GOTRUE_JWT_DEFAULT_GROUP_NAME"] == "authenticated"
    for secret in target.keys.secrets():
        assert all(secret not in value for value in settings.values())
    assert "GOTRUE_JWT_SECRET" not in settings and "GOTRUE_DB_DATABASE_URL" not in settings

"""Targets declare what they can do (soberharness.targets.base): throwaway databases, stacks of
their own beside them, running elsewhere already. Suites ask with isinstance and skip naming
the capability a target lacks; the chaos suite, on a target without StackHost, skips every
destructive test with that reason."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from soberharness.pytest_plugin import TARGET_KEY
from soberharness.targets.base import DatabaseProvisioning, Deployment, StackHost, lacks
from soberharness.targets.containers import ContainersTarget
from soberharness.targets.local import LocalTarget
from soberharness.targets.remote import RemoteTarget, parse_target_config

REPO = Path(__file__).resolve().parents[2]
REMOTE = {"name": "elsewhere", "cloud": "gcp", "region": "europe-west1",
          "urls": {"rest": "http://127.0.0.1:1/rest/v1"},
          "secrets": {"anon_key_env": "ANON", "service_key_env": "SERVICE",
                      "jwt_secret_env": "SECRET"}}
ENV = {"ANON": "a", "SERVICE": "s", "SECRET": "j"}


def test_each_target_kind_declares_its_capabilities() -> None:
    local = LocalTarget()
    remote = RemoteTarget(parse_target_config(REMOTE), environ=ENV)
    assert isinstance(local, DatabaseProvisioning) and isinstance(local, StackHost)
    assert not isinstance(local, Deployment)
    assert isinstance(remote, Deployment)
    assert not isinstance(remote, DatabaseProvisioning) and not isinstance(remote, StackHost)
    assert not issubclass(ContainersTarget, DatabaseProvisioning | StackHost | Deployment)


def test_a_sibling_stack_is_a_new_local_stack_from_the_same_files(tmp_path: Path) -> None:
    local = LocalTarget(workdir=tmp_path / "a")
    sibling = local.sibling("chaos-x", tmp_path / "b", {"fsync": "off"})
    assert isinstance(sibling, LocalTarget) and sibling is not local
    assert (sibling.name, sibling.workdir) == ("chaos-x", tmp_path / "b")
    assert (sibling.migrations_dir, sibling.bootstrap_dir) == (local.migrations_dir,
                                                               local.bootstrap_dir)


def test_the_skip_reason_names_the_missing_capability() -> None:
    remote = RemoteTarget(parse_target_config(REMOTE), environ=ENV)
    assert lacks(remote, StackHost) == (
        "target 'elsewhere' (remote) does not declare StackHost (runs further stacks of the "
        "harness's own on this machine (PostgreSQL servers it starts, kills, fills and "
        "restores))"
    )


class _DestructiveItem:
    """What the suites' setup hooks read of a test: its destructive marker and the target."""

    def __init__(self, target: object) -> None:
        self.config = SimpleNamespace(stash={TARGET_KEY: SimpleNamespace(target=target)})

    def get_closest_marker(self, name: str) -> object | None:
        return object() if name == "destructive" else None


def _setup_hook(suite: str) -> Callable[[object], None]:
    spec = importlib.util.spec_from_file_location(f"{suite}_conftest",
                                                  REPO / "suites" / suite / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.pytest_runtest_setup  # type: ignore[no-any-return]


@pytest.mark.parametrize("suite", ["chaos", "dr"])
def test_chaos_and_dr_skip_a_target_without_stack_host_naming_it(suite: str) -> None:
    remote = RemoteTarget(parse_target_config(REMOTE), environ=ENV)
    with pytest.raises(pytest.skip.Exception, match="does not declare StackHost"):
        _setup_hook(suite)(_DestructiveItem(remote))
    _setup_hook(suite)(_DestructiveItem(LocalTarget()))  # the local target hosts stacks

"""Starting the harness's own Docker engine inside a test: an engine that cannot start fails
the test in CI (setup installed Debian's docker.io there, so an engine must run) and skips it
elsewhere, naming why in one line (ops/docker_engine.when_no_engine)."""

from __future__ import annotations

import os

import pytest

from soberharness.errors import TargetUnavailable
from soberharness.ops.docker_engine import DockerEngine, when_no_engine


def started_engine() -> DockerEngine:
    """A started private engine, or the test failed (CI) or skipped (elsewhere) in one line."""
    engine = DockerEngine()
    try:
        engine.start()
    except TargetUnavailable as exc:
        action, line = when_no_engine(str(exc), os.environ)
        if action == "fail":
            pytest.fail(line, pytrace=False)
        pytest.skip(line)
    return engine

"""The load files' own options are listed by the help command (locust's own `--help` answers
before it imports the file, so it cannot list them)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from soberharness.targets.migrations import REPO


@pytest.mark.parametrize(("locustfile", "own"), [
    ("loadtests/realtime.py", ("--realtime-url", "--writers", "--max-lost", "--drain")),
    ("loadtests/rest.py", ("--population", "--max-error-rate", "--max-p95-ms")),
])
def test_help_lists_the_files_own_options(locustfile: str, own: tuple[str, ...]) -> None:
    done = subprocess.run([sys.executable, "-m", "soberharness.workload.locust_help", locustfile],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    missing = [option for option in own if option not in done.stdout]
    assert not missing, f"{locustfile}: help lacks {missing}"
    assert "--headless" in done.stdout  # locust's own options are there too


def test_a_missing_file_is_one_line() -> None:
    done = subprocess.run([sys.executable, "-m", "soberharness.workload.locust_help",
                           "loadtests/nope.py"], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 4 and done.stderr.strip().count("\n") == 0, done.stderr
    assert "no locust file at loadtests/nope.py" in done.stderr

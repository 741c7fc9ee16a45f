"""The benchmark commands refuse a count below one in one line, before starting anything
(a median over no rounds was a traceback)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(("module", "argument", "value"), [
    ("soberharness.bench.matrix_rate", "--rounds", "0"),
    ("soberharness.bench.matrix_rate", "--workers", "-1"),
    ("soberharness.bench.steps_rate", "--rounds", "0"),
    ("soberharness.bench.steps_rate", "--examples", "many"),
])
def test_a_count_below_one_is_refused_in_one_line(module: str, argument: str, value: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, argument, value],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert errors == [f"{module.rsplit('.', 1)[1]}.py: error: argument {argument}: expected a "
                      f"whole number of 1 or more, got {value!r}"], done.stderr
    assert done.stdout == ""

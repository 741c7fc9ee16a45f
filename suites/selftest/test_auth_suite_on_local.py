"""On a target without GoTrue the auth suite is skipped, test by test, with the missing service
named, never passed silently; its database-only tests still run and pass."""

from __future__ import annotations

import ast
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from soberharness.targets.migrations import REPO

AUTH_SUITE = REPO / "suites" / "auth"


def auth_needing_tests() -> set[str]:
    """Test functions of suites/auth whose needs() marker names 'auth' (read from the source)."""
    found: set[str] = set()
    for path in AUTH_SUITE.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            for decorator in node.decorator_list:
                if (isinstance(decorator, ast.Call)
                        and ast.unparse(decorator.func) == "pytest.mark.needs"
                        and any(isinstance(a, ast.Constant) and a.value == "auth"
                                for a in decorator.args)):
                    found.add(node.name)
    return found


@pytest.mark.needs("postgres")
def test_auth_suite_on_local_skips_what_needs_gotrue_and_runs_the_rest(
    tmp_path: Path,
) -> None:
    report = tmp_path / "junit.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(AUTH_SUITE), "-q", "--target", "local",
         "--report-dir", str(tmp_path / "reports"), f"--junitxml={report}"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    needing = auth_needing_tests()
    assert needing, "no test of suites/auth declares needs('auth')"
    seen: set[str] = set()
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.attrib["name"].split("[")[0]
        seen.add(name)
        skipped = case.find("skipped")
        if name in needing:
            assert skipped is not None, f"{name} needs auth but was not skipped on local"
            assert "offers no 'auth' service" in skipped.attrib.get("message", ""), name
        else:
            assert skipped is None and case.find("failure") is None, f"{name} did not pass"
    assert needing <= seen, f"not collected: {needing - seen}"
    assert seen - needing, "nothing of the auth suite ran on local"

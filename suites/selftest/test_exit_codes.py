"""One meaning per exit status across the harness's commands (issue 22, item 18): a bad option
is bad input (4, as for pytest), never argparse's 2, which is Ctrl-C's; a test file that does
not import is bad input too, not pytest's "Interrupted" (2); the README's table lists the same
statuses as soberharness.errors.Exit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from soberharness.errors import Exit
from soberharness.paths import REPO
from soberharness.testing.pytest_runs import run_pytest, run_summary

COMMANDS = ["soberharness.parity", "soberharness.cloud_move", "soberharness.migrate_legacy",
            "soberharness.report.baseline", "soberharness.targets.expose"]


@pytest.mark.parametrize("module", COMMANDS)
def test_a_bad_option_is_bad_input(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--no-such-option"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == Exit.BAD_INPUT, done.stderr
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if "error:" in line] != []


def test_the_readme_table_says_what_exit_says() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Exit codes"):readme.index("## Parity across clouds")]
    rows = dict(re.findall(r"^\| (\d) \| ([^|]+) \|$", section, re.MULTILINE))
    assert sorted(int(k) for k in rows) == sorted(int(e) for e in Exit)
    words = {Exit.OK: "holds", Exit.FOUND: "does not hold", Exit.INTERRUPTED: "Ctrl-C",
             Exit.INTERNAL: "internal", Exit.BAD_INPUT: "bad input",
             Exit.NOTHING_CHECKED: "nothing was checked"}
    for code, word in words.items():
        assert word in rows[str(int(code))], (code, rows[str(int(code))])


BROKEN = "import no_such_module_of_the_harness_selftest\n\n\ndef test_a():\n    pass\n"


def test_a_test_file_that_does_not_import_is_bad_input_not_ctrl_c(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text(BROKEN)
    code, output, _ = run_pytest(tmp_path)
    assert code == Exit.BAD_INPUT, output
    assert "Ctrl-C" not in output and "Interrupted" not in output, output
    stop = [line for line in output.splitlines()
            if "soberharness: 1 error during collection" in line]
    assert len(stop) == 1 and "test_broken.py" in stop[0], output
    summary = run_summary(tmp_path)
    assert (summary["verdict"], summary["exit_status"]) == ("error", Exit.BAD_INPUT)

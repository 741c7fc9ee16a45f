"""Verdicts that are never wrong (issue 22, items 1-4): the xdist merge keeps declarations, a
run that checked nothing about its target is not green, a bad environment value or steps file
is bad input (one line, exit 4), never a Ctrl-C or a test failure."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from soberharness.records.results import LintFinding, Severity
from soberharness.report.run_report import RunReport
from soberharness.report.xdist_merge import merge_reports, report_from_data, report_to_data
from soberharness.testing.pytest_runs import (
    DATABASE_ONLY_TARGET,
    no_traceback,
    run_pytest,
    run_summary,
)

DECLARED_LINT = """
import os
from soberharness.records.results import LintFinding, Severity

def test_declared_{n}(run_report):
    run_report.lints.append(LintFinding("rule_{n}", Severity.WARN, "public.t{n}", "seen",
                                        declared="accepted in declarations.toml"))
"""

INDEPENDENT_AND_SKIPPED = """
import pytest

@pytest.mark.target_independent
def test_the_repository_has_files():
    pass

@pytest.mark.needs("auth")
def test_signup():
    pass
"""

CHECKS_THE_TARGET = """
import pytest

@pytest.mark.needs("postgres")
def test_database_answers(target):
    assert target.admin_dsn()
"""

IMPORTS_SURFACE_CALLS = """
from soberharness.workload.exposed_calls import MAX_CALLS

def test_calls():
    assert MAX_CALLS
"""

PLAIN = """
import json
import os
from pathlib import Path

def test_writes_a_file():
    Path("ran.txt").write_text("the test ran")
"""


def test_a_declared_finding_stays_declared_through_the_xdist_trip() -> None:
    declared = LintFinding("rls_enabled_no_policy", Severity.WARN, "public.t", "no policy",
                           declared="internal table")
    part = RunReport("local", "local", "r1", lints=[declared])
    merged = merge_reports([report_from_data(report_to_data(part))], [])
    assert merged.lints == [declared] and merged.lint_errors == []


@pytest.mark.needs("postgres")
def test_xdist_run_with_declared_findings_passes_everywhere(tmp_path: Path, target) -> None:
    for n in (1, 2):
        (tmp_path / f"test_part{n}.py").write_text(DECLARED_LINT.format(n=n))
    (tmp_path / "database-only.toml").write_text(DATABASE_ONLY_TARGET)
    code, output, _ = run_pytest(tmp_path, "-n", "2", "--dist", "loadfile", "--target",
                                 "database-only.toml", OUTER_DSN=target.admin_dsn())
    assert code == 0, output
    assert "0 failing lint findings (2 findings)" in output, output
    assert run_summary(tmp_path)["verdict"] == "passed"


@pytest.mark.needs("postgres")
def test_a_run_that_checked_nothing_about_the_target_is_not_green(tmp_path: Path,
                                                                    target) -> None:
    (tmp_path / "test_nothing.py").write_text(INDEPENDENT_AND_SKIPPED)
    (tmp_path / "database-only.toml").write_text(DATABASE_ONLY_TARGET)
    dsn = {"OUTER_DSN": target.admin_dsn()}
    code, output, _ = run_pytest(tmp_path, "--target", "database-only.toml", **dsn)
    assert code == 5, output
    assert ("soberharness: nothing about the target was checked (1 skipped, 1 "
            "target-independent)") in output, output
    assert run_summary(tmp_path)["verdict"] == "skipped"

    (tmp_path / "test_checks.py").write_text(CHECKS_THE_TARGET)
    code, output, _ = run_pytest(tmp_path, "--target", "database-only.toml", **dsn)
    assert code == 0, output


def test_a_bad_environment_value_is_one_line_and_exit_4(tmp_path: Path) -> None:
    (tmp_path / "test_surface.py").write_text(IMPORTS_SURFACE_CALLS)
    code, output, _ = run_pytest(tmp_path, SOBERHARNESS_SURFACE_CALLS="abc")
    assert code == 4, output
    no_traceback(output)
    assert "interrupted" not in output and "ValueError" not in output, output
    lines = [line for line in output.splitlines() if "SOBERHARNESS_SURFACE_CALLS" in line]
    assert lines == ["soberharness: SOBERHARNESS_SURFACE_CALLS='abc' is not a whole number "
                     "(unset it for 16)"], output
    assert run_summary(tmp_path)["verdict"] == "error"


@pytest.mark.parametrize("content, where", [
    (b"u1 post id=p1 author=u1\nu1 dance id=p2\n", "line 2: 'u1 dance id=p2': unknown "
     "verb 'dance'"),
    (b"u1 post id=p1 author=u1\n\x89PNG\r\n\x1a\n\x00\xff", "line 2: not a steps file"),
], ids=["unknown-verb", "binary"])
def test_a_bad_steps_file_is_one_line_naming_file_and_line(tmp_path: Path, content: bytes,
                                                          where: str) -> None:
    (tmp_path / "test_plain.py").write_text(PLAIN)
    (tmp_path / "bad.steps").write_bytes(content)
    code, output, _ = run_pytest(tmp_path, "--replay-steps", "bad.steps")
    assert code == 4, output
    no_traceback(output)
    lines = [line for line in output.splitlines() if "bad.steps" in line]
    assert len(lines) == 1 and lines[0].startswith("soberharness: bad.steps: " + where), output
    assert not (tmp_path / "ran.txt").exists(), "a test ran before the steps file was read"


def test_a_target_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    """Issue 22, item 9 (was INTERNALERROR, 102 lines, exit 1)."""
    (tmp_path / "test_plain.py").write_text(PLAIN)
    (tmp_path / "latin1.toml").write_bytes(b'name = "staging"\n# caf\xe9\n')
    code, output, _ = run_pytest(tmp_path, "--target", "latin1.toml")
    assert code == 4, output
    no_traceback(output)
    lines = [line for line in output.splitlines() if "latin1.toml" in line]
    assert len(lines) == 1 and lines[0].startswith("soberharness: "), output
    assert "latin1.toml:2: not UTF-8 text (byte 0xe9)" in lines[0]
    assert not (tmp_path / "ran.txt").exists()


def test_reports_that_cannot_be_written_go_elsewhere_and_keep_the_verdict(
        tmp_path: Path) -> None:
    """Issue 22, item 10: a read-only checkout (here: the report folder's parent is a file,
    which stops root too) gave a PermissionError traceback and exit 1 after passing tests."""
    (tmp_path / "test_plain.py").write_text(PLAIN)
    (tmp_path / "checkout").write_text("not a folder")
    code, output, _ = run_pytest(tmp_path, "--report-dir", str(tmp_path / "checkout" / "latest"))
    assert code == 0, output
    no_traceback(output)
    fallback = tmp_path / "tmp" / f"soberharness-reports-{os.getuid()}"
    lines = [line for line in output.splitlines() if "cannot write reports" in line]
    assert len(lines) == 1 and lines[0].startswith("soberharness: "), output
    assert str(tmp_path / "checkout") in lines[0] and str(fallback) in lines[0]
    found = list((fallback / "runs").glob("*/summary.json"))
    assert len(found) == 1 and json.loads(found[0].read_text())["verdict"] == "passed"


def test_a_migrations_copy_without_declarations_says_so_first(tmp_path: Path) -> None:
    """Issue 22, item 14: `--migrations ../my-migrations` looked for the declaration file
    beside the copy only, and two unrelated tests failed without saying why."""
    copy = tmp_path / "my-stack" / "migrations"
    copy.mkdir(parents=True)
    (copy / "20240101000000_init.sql").write_text("create table public.t (a int);\n")
    (tmp_path / "test_plain.py").write_text(PLAIN)
    code, output, _ = run_pytest(tmp_path, "--migrations", str(copy))
    assert code == 0, output
    first = output.splitlines()[:3]
    hint = [line for line in first if "no declaration file" in line]
    assert len(hint) == 1, output
    assert str(tmp_path / "my-stack" / "declarations.toml") in hint[0]
    assert "--declarations" in hint[0] and str(copy) in hint[0]

    (tmp_path / "my-stack" / "declarations.toml").write_text("")
    code, output, _ = run_pytest(tmp_path, "--migrations", str(copy))
    assert code == 0 and "no declaration file" not in output, output


NEEDS_LOCAL = """
import pytest

@pytest.mark.needs("postgres")
def test_database(target):
    assert target.admin_dsn()
"""


def test_the_target_start_is_shown_not_captured(tmp_path: Path) -> None:
    """Issue 22, item 15 (part): the target starts inside the first test's setup, where pytest
    captured its `starting`/`up in` lines, so the terminal showed nothing while it started."""
    (tmp_path / "test_database.py").write_text(NEEDS_LOCAL)
    code, output, _ = run_pytest(tmp_path)
    assert code == 0, output
    lines = output.splitlines()
    starting = [i for i, line in enumerate(lines)
                if line == "[soberharness] starting target 'local' (local)..."]
    up = [i for i, line in enumerate(lines)
          if line.startswith("[soberharness] target 'local' up in ")]
    assert len(starting) == 1 and len(up) == 1 and starting[0] < up[0], output

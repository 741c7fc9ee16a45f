"""A migration that hangs ends the run within its statement timeout, with one line naming the
file and line (issue 22, item 6), also when the file turns the timeout off itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.testing.pytest_runs import no_traceback, run_pytest, run_summary

NEEDS_THE_DATABASE = """
import pytest

@pytest.mark.needs("postgres")
def test_database(target):
    assert target.admin_dsn()
"""


@pytest.mark.needs("postgres")
def test_a_hanging_migration_times_out_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "20240101000000_init.sql").write_text("create table public.t (a int);\n")
    (folder / "20240102000000_hang.sql").write_text(
        "-- as pg_dump writes it\nSET statement_timeout = 0;\n\nselect pg_sleep(600);\n")
    (tmp_path / "test_database.py").write_text(NEEDS_THE_DATABASE)
    code, output, seconds = run_pytest(tmp_path, "--migrations", str(folder), timeout=240,
                                       SOBERHARNESS_STATEMENT_TIMEOUT="2")
    assert code == 4, output
    no_traceback(output)
    lines = [line for line in output.splitlines() if "20240102000000_hang.sql" in line]
    assert len(lines) == 1, output
    assert lines[0].startswith("soberharness: ") and "20240102000000_hang.sql:4:" in lines[0]
    assert "statement timeout" in lines[0] and "SOBERHARNESS_STATEMENT_TIMEOUT=2" in lines[0]
    assert seconds < 120, f"the hanging migration took {seconds:.0f}s to be reported"
    assert run_summary(tmp_path)["verdict"] == "error"


def test_a_bad_statement_timeout_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "test_database.py").write_text(NEEDS_THE_DATABASE)
    code, output, _ = run_pytest(tmp_path, SOBERHARNESS_STATEMENT_TIMEOUT="soon")
    assert code == 4, output
    no_traceback(output)
    assert "soberharness: SOBERHARNESS_STATEMENT_TIMEOUT='soon' is not a number of seconds" \
        in output, output

"""Every statement the harness sends has a timeout (issue 22, item 6): its sessions come from
db/session.py, which sets `statement_timeout` (SOBERHARNESS_STATEMENT_TIMEOUT), and a statement
that hangs fails its test within seconds with one line naming the statement."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from soberharness.db import session
from soberharness.errors import BadInput
from soberharness.paths import REPO
from soberharness.testing.pytest_runs import no_traceback, run_pytest, run_summary

HANGS = """
import pytest
from soberharness.db import session

@pytest.mark.needs("postgres")
def test_hangs(target):
    with session.connect(target.admin_dsn(), autocommit=True) as conn:
        conn.execute("select pg_sleep(600)")

@pytest.mark.needs("postgres")
def test_after_it(target):
    with session.connect(target.admin_dsn(), autocommit=True) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
"""

# Files that open a session themselves, and why that is bounded too.
OWN_TIMEOUT = {"soberharness/db/session.py": "the one place sessions are opened",
               "soberharness/world/scale.py": "sets its own 1 h bound: world/ is below db/"}


def _opens_sessions_itself(path: Path) -> bool:
    """Whether the module calls psycopg.connect (code, not the text of a script it writes)."""
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr == "connect" and isinstance(node.func.value, ast.Name)
               and node.func.value.id == "psycopg"
               for node in ast.walk(ast.parse(path.read_text())))


def test_every_harness_session_comes_from_db_session() -> None:
    """The library's sessions and the suites' own (a test's setup statements hang too)."""
    modules = [p for folder in ("soberharness", "suites", "loadtests", "scenarios")
               for p in (REPO / folder).rglob("*.py") if "/testing/" not in str(p)]
    raw = [str(p.relative_to(REPO)) for p in [*modules, REPO / "conftest.py"]
           if _opens_sessions_itself(p)]
    assert sorted(raw) == sorted(OWN_TIMEOUT), (
        "these open PostgreSQL sessions without the harness's statement timeout: "
        f"{sorted(set(raw) - set(OWN_TIMEOUT))} (use soberharness.db.session.connect)")
    assert "statement_timeout" in (REPO / "soberharness/world/scale.py").read_text()


def test_the_session_check_sees_a_call_and_not_a_script_text(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("import psycopg\n\nconn = psycopg.connect('')\n")
    script = tmp_path / "script.py"
    script.write_text("SCRIPT = \"\"\"\nimport psycopg\npsycopg.connect('')\n\"\"\"\n")
    assert _opens_sessions_itself(planted) and not _opens_sessions_itself(script)


def test_the_timeout_is_settable_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(session.ENV, raising=False)
    assert session.statement_timeout_s() == session.DEFAULT_S
    monkeypatch.setenv(session.ENV, "2.5")
    assert session.statement_timeout_s() == 2.5
    for bad in ("soon", "0", "-1", "inf"):
        monkeypatch.setenv(session.ENV, bad)
        with pytest.raises(BadInput, match=session.ENV):
            session.statement_timeout_s()


def test_the_hung_line_names_the_statement_and_the_setting() -> None:
    line = session.hung_line("select\n   pg_sleep(600)", "database postgres on h:5", 2)
    assert "\n" not in line and "`select pg_sleep(600)`" in line
    assert "2 s" in line and session.ENV in line and "database postgres on h:5" in line


@pytest.mark.needs("postgres")
def test_a_hanging_statement_fails_its_test_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "test_hangs.py").write_text(HANGS)
    # A hang the timeout does not end would outlast run_pytest's own 240 s and fail the test.
    code, output, _ = run_pytest(tmp_path, timeout=240, SOBERHARNESS_STATEMENT_TIMEOUT="2")
    assert code == 1, output
    no_traceback(output)
    hung = [line for line in output.splitlines() if "pg_sleep(600)" in line]
    assert hung and all(re.search(r"got no answer within the session's 2 s", h) for h in hung), \
        output
    cases = {c["nodeid"].rpartition("::")[2]: c for c in run_summary(tmp_path)["tests"]["cases"]}
    assert cases["test_hangs"]["outcome"] == "failed"
    assert cases["test_after_it"]["outcome"] == "passed"
    assert "pg_sleep(600)" in json.dumps(cases["test_hangs"])

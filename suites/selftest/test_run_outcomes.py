"""How a whole harness run ends, run as a person would run it (pytest in a subprocess, on a
throwaway test file): an unreachable target, a run in which everything was skipped, Ctrl-C,
unset target variables, --list-targets. Each must end with one line and the right exit status,
and the run page must carry the right verdict."""

from __future__ import annotations

import signal
import socket
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from soberharness.testing.pytest_runs import (
    REPO,
    clean_env,
    no_traceback,
    pytest_argv,
    run_pytest,
    run_summary,
)

UNREACHABLE_TARGET = """
name = "dead-deployment"
[urls]
rest = "http://127.0.0.1:1"
auth = "http://127.0.0.1:{hung_port}"
[secrets]
anon_key_env = "DEAD_ANON"
service_key_env = "DEAD_SERVICE"
"""

# This session's own database as a remote target offering only `postgres`: reachable, and
# quick to check (the run under test starts no server of its own).
DATABASE_ONLY_TARGET = """
name = "database-only"
[secrets]
database_dsn_env = "OUTER_DSN"
"""

SKIPPED_ONLY = """
import pytest

@pytest.mark.needs("auth")
def test_signup():
    pass

@pytest.mark.needs("realtime")
def test_broadcast():
    pass
"""

SLOW = """
import time
import pytest

@pytest.mark.needs("postgres")
def test_first(target):
    assert target.pg.alive

def test_slow(module_database):
    print("READY", flush=True)
    time.sleep(60)

def test_never_reached():
    pass
"""

PLAIN = """
from pathlib import Path

def test_writes_a_file():
    Path("ran.txt").write_text("the test ran")
"""


def test_unreachable_target_fails_the_run_with_one_line_naming_the_url(tmp_path: Path) -> None:
    """A closed port (refused at once) and a port that accepts but never answers (a hung
    service: bounded by the check's timeout); the tests would all have been skipped."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen()
        port = hung.getsockname()[1]
        (tmp_path / "dead.toml").write_text(UNREACHABLE_TARGET.format(hung_port=port))
        (tmp_path / "test_skipped_only.py").write_text(SKIPPED_ONLY.replace('"auth"', '"rest"'))
        code, output, seconds = run_pytest(tmp_path, "--target", "dead.toml",
                                     DEAD_ANON="anon-key-value", DEAD_SERVICE="service-key-value")
    assert code == 4, output
    lines = [line for line in output.splitlines() if "http://127.0.0.1:1" in line]
    assert len(lines) == 1 and lines[0].startswith("soberharness: target 'dead-deployment'"), \
        output
    assert f"auth at http://127.0.0.1:{port}: no answer within 5 s" in lines[0]
    no_traceback(output)
    assert seconds < 60, f"an unreachable target took {seconds:.0f}s to be reported"
    doc = run_summary(tmp_path)
    assert doc["verdict"] == "error"
    assert "http://127.0.0.1:1" in doc["stopped_by"]


@pytest.mark.needs("postgres")
def test_a_run_in_which_everything_was_skipped_is_not_passed(tmp_path: Path, target) -> None:
    (tmp_path / "test_skipped_only.py").write_text(SKIPPED_ONLY)
    (tmp_path / "database-only.toml").write_text(DATABASE_ONLY_TARGET)
    dsn = {"OUTER_DSN": target.admin_dsn()}
    code, output, _ = run_pytest(tmp_path, "--target", "database-only.toml", **dsn)
    assert code == 5, output
    assert "soberharness: every selected test was skipped (2)" in output
    doc = run_summary(tmp_path)
    assert doc["verdict"] == "skipped"
    assert doc["tests"]["counts"] == {"skipped": 2}
    junit = ET.parse(next((tmp_path / "reports" / "runs").glob("*/junit.xml")))
    failures = junit.getroot().findall(".//failure")
    assert [f.get("message", "").split(":")[0] for f in failures] == ["skipped"]
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "verdict skipped" in index

    code, output, _ = run_pytest(tmp_path, "--target", "database-only.toml", "--allow-all-skipped",
                           **dsn)
    assert code == 0, output


@pytest.mark.needs("postgres")
def test_ctrl_c_exits_2_with_one_line_creates_nothing_and_records_interrupted(
        tmp_path: Path) -> None:
    (tmp_path / "test_slow.py").write_text(SLOW)
    env = clean_env(tmp_path)
    tmp = Path(env["TMPDIR"])
    child = subprocess.Popen(pytest_argv("-s", "--report-dir",
                                          str(tmp_path / "reports" / "latest")),
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        assert child.stdout is not None
        seen = []
        for line in child.stdout:
            seen.append(line)
            if "READY" in line:
                break
        assert any("READY" in line for line in seen), "".join(seen)
        workdirs = list(tmp.glob("soberharness-*"))
        assert workdirs, "the local target works in a soberharness-* folder of TMPDIR"
        child.send_signal(signal.SIGINT)
        rest, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    output = "".join(seen) + rest
    assert child.returncode == 2, output
    no_traceback(output)
    assert "KeyboardInterrupt" not in output, output
    assert sum("soberharness: interrupted (Ctrl-C)" in line for line in output.splitlines()) == 1
    assert list(tmp.glob("soberharness-*")) == [], "a temporary folder was left or made anew"
    doc = run_summary(tmp_path)
    assert doc["verdict"] == "interrupted"
    assert doc["tests"]["counts"] == {"passed": 1}, "only the test that finished counts"
    assert "interrupted" in (tmp_path / "reports" / "index.html").read_text()


def test_remote_target_with_unset_variables_stops_before_the_tests(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(PLAIN)
    target = REPO / "fixtures" / "targets" / "example-remote.toml"
    code, output, _ = run_pytest(tmp_path, "--target", str(target))
    assert code == 4, output
    no_traceback(output)
    lines = [line for line in output.splitlines() if "SOBER_STAGING_ANON_KEY" in line]
    assert len(lines) == 1 and lines[0].startswith("soberharness:"), output
    assert not (tmp_path / "ran.txt").exists(), "a test ran before the target was checked"
    assert run_summary(tmp_path)["verdict"] == "error"


def test_list_targets_prints_an_aligned_table_and_nothing_else(tmp_path: Path) -> None:
    code, output, _ = run_pytest(tmp_path, "--list-targets")
    assert code == 0, output
    no_traceback(output)
    rows = [line for line in output.splitlines() if line.strip()]
    assert rows[0].split() == ["target", "kind", "what"], output
    names = {"local", "containers", "example-remote"}
    assert names <= {row.split()[0] for row in rows}, output
    starts = {row.index(row.split()[1], len(row.split()[0])) for row in rows}
    assert len(starts) == 1, f"the second column does not line up:\n{output}"


CRASHING_PLUGIN = """
def pytest_runtest_logfinish(nodeid, location):
    if nodeid.endswith("test_second"):
        raise RuntimeError("a plugin crashed")
"""

THREE_TESTS = """
def test_first():
    pass

def test_second():
    pass

def test_third():
    pass
"""


def test_a_crashed_run_is_recorded_as_error(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CRASHING_PLUGIN)
    (tmp_path / "test_three.py").write_text(THREE_TESTS)
    code, output, _ = run_pytest(tmp_path)
    assert code == 3, output  # pytest's INTERNAL_ERROR
    doc = run_summary(tmp_path)
    assert doc["verdict"] == "error"
    assert doc["tests"]["counts"] == {"passed": 2}, "the third test never ran"

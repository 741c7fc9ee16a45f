"""The security suite's PostgREST tests run as they run on a deployment: a remote target file
whose `rest` URL is the PostgREST protocol double served on loopback, over this session's
scratch database. The remote-only path (target file, health check, keys, client, runner,
judgement) is exercised in CI, clean and with a planted leak named as its cells."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from soberharness.db import session as db_session
from soberharness.targets.base import Target
from soberharness.testing.loopback import serve
from soberharness.testing.postgrest_protocol_double import BASE_URL, PostgrestProtocolDouble
from soberharness.testing.pytest_runs import double_env, double_target

REPO = Path(__file__).resolve().parents[2]
SUITE = "suites/security/test_rest_matrix.py"
LEAK = "create policy planted_leak on public.posts for select to anon using (true)"


@pytest.fixture
def rest_double(target: Target, scratch_database: str) -> Iterator[str]:
    secret = target.keys.jwt_secret
    assert secret, "the local target signs its own tokens"
    double = PostgrestProtocolDouble(scratch_database, secret)
    try:
        with serve(double) as origin:
            yield origin + BASE_URL.split("postgrest.double", 1)[1]
    finally:
        double.close()


def _run_suite(tmp_path: Path, target: Target, dsn: str, rest_url: str,
               *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    secret = target.keys.jwt_secret or ""
    env = double_env(tmp_path, secret, dsn)
    report_dir = tmp_path / "reports" / "latest"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", SUITE, *extra,
         "--target", str(double_target(tmp_path, "rest-double", {"rest": rest_url})),
         "--report-dir", str(report_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    summary = json.loads((report_dir / "summary.json").read_text())
    return done, summary


@pytest.mark.needs("postgres")
def test_the_rest_suite_passes_through_a_target_file_on_the_clean_stack(
    tmp_path: Path, target: Target, scratch_database: str, rest_double: str
) -> None:
    done, summary = _run_suite(tmp_path, target, scratch_database, rest_double)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "3 passed" in output, output[-4000:]
    assert summary["target"]["name"] == "rest-double"
    assert summary["target"]["kind"] == "remote"
    assert "access matrix through PostgREST" in json.dumps(summary), "the REST run left no note"


@pytest.mark.needs("postgres")
def test_a_leak_through_the_target_file_is_named_as_its_cells(
    tmp_path: Path, target: Target, scratch_database: str, rest_double: str
) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute(LEAK)
    done, _ = _run_suite(tmp_path, target, scratch_database, rest_double,
                         "-k", "answers_as_the_model")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-4000:]
    failed = [line for line in output.splitlines() if "model denies, PostgREST allowed" in line]
    assert failed, output[-4000:]
    assert all("anon select posts" in line for line in failed), "\n".join(failed)

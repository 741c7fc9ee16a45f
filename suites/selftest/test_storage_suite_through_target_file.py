"""The storage suite runs as it runs on a deployment: a remote target file whose `storage` URL
is the Storage API protocol double served on loopback, over a scratch database with the stack's
real policies. So the remote-only path (target file, health check, storage world, HTTP forms of
every matrix case, bucket administration, the planted-policy proof) runs in CI, and a merge
that breaks it fails here instead of on the next real deployment.

The matrix over HTTP runs a covering sample per bucket here (SOBERHARNESS_STORAGE_SAMPLE): every
cell of it runs on the same double in-process in test_storage_over_http_on_double.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from soberharness.targets.base import Target
from soberharness.testing.loopback import serve
from soberharness.testing.pytest_runs import double_env, double_target
from soberharness.testing.storage_protocol_double import (
    EMPTY_FOR_ANY_ROLE,
    EMPTY_IF_FIRST_DELETABLE,
    PLANTED,
    PREFIX,
    StorageApiDouble,
)
from soberharness.workload.storage_sample import SAMPLE_ENV

REPO = Path(__file__).resolve().parents[2]
NAME = "storage-double"
SAMPLE = 160  # cells per bucket of the 792: the cover (144) and a few more


def _serve(target: Target, dsn: str, planted: frozenset[str]) -> Iterator[str]:
    secret = target.keys.jwt_secret
    assert secret, "the local target signs its own tokens"
    with StorageApiDouble(dsn, secret, planted=planted) as double, \
            serve(double.transport()) as origin:
        yield origin + PREFIX


@pytest.fixture
def storage_double(target: Target, scratch_database: str) -> Iterator[str]:
    yield from _serve(target, scratch_database, frozenset())


@pytest.fixture(params=sorted(PLANTED))
def leaky_storage_double(request: pytest.FixtureRequest, target: Target,
                         scratch_database: str) -> Iterator[tuple[str, str]]:
    for url in _serve(target, scratch_database, frozenset({request.param})):
        yield request.param, url


def _run_suite(tmp_path: Path, target: Target, dsn: str, url: str,
               *extra: str) -> subprocess.CompletedProcess[str]:
    secret = target.keys.jwt_secret or ""
    env = double_env(tmp_path, secret, dsn) | {SAMPLE_ENV: str(SAMPLE)}
    target_file = double_target(tmp_path, NAME, {"storage": url}, destructive=True)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "suites/storage",
         *extra, "--target", str(target_file), "--confirm-destructive", NAME,
         "--report-dir", str(tmp_path / "reports" / "latest")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def _count(output: str, word: str) -> int:
    found = re.search(rf"(\d+) {word}", output.splitlines()[-1] if output else "")
    return int(found.group(1)) if found else 0


@pytest.mark.needs("postgres")
def test_the_storage_suite_passes_through_a_target_file(
    tmp_path: Path, target: Target, scratch_database: str, storage_double: str
) -> None:
    done = _run_suite(tmp_path, target, scratch_database, storage_double)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, output[-5000:]
    assert _count(output, "passed") >= 15, output[-3000:]
    skipped = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    # The double has no imgproxy; anything else skipped would be a remote path CI never runs.
    assert all("image-transformation" in line for line in skipped), "\n".join(skipped)
    # the matrix ran over HTTP, the sample asked for and no more, without a mismatch
    notes = json.loads((tmp_path / "reports" / "latest" / "summary.json").read_text())["notes"]
    for bucket in ("avatars", "videos"):
        ran = notes[f"storage over HTTP: {bucket}"]
        assert (ran["cells"], ran["mismatches"]) == (SAMPLE, []), ran
        assert ran["cells run"].startswith(f"a sample of {SAMPLE} of "), ran
    # the listing non-interference ran its uploads through the API (storage_listing)
    assert re.match(r"[1-9]\d* uploads, [1-9]\d* listings", notes[
        "storage listing non-interference"]), notes


# Which tests of suites/storage/test_buckets.py each planted Storage API fails (and no other).
FAILS = {
    EMPTY_FOR_ANY_ROLE: {  # the non-destructive test's bucket is invisible: RLS refuses first
        "test_a_bucket_callers_can_see_is_still_emptied_and_deleted_by_service_only",
        "test_a_user_who_may_delete_the_first_object_still_cannot_empty_the_bucket",
    },
    EMPTY_IF_FIRST_DELETABLE: {
        "test_a_user_who_may_delete_the_first_object_still_cannot_empty_the_bucket",
    },
}


@pytest.mark.needs("postgres")
def test_a_storage_api_that_lets_callers_empty_a_bucket_is_named(
    tmp_path: Path, target: Target, scratch_database: str,
    leaky_storage_double: tuple[str, str],
) -> None:
    planted, url = leaky_storage_double
    done = _run_suite(tmp_path, target, scratch_database, url, "-rf",
                      "suites/storage/test_buckets.py")
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 1, output[-5000:]
    failed = {line.split("::", 1)[1].split(" ", 1)[0] for line in output.splitlines()
              if line.startswith("FAILED suites/storage/test_buckets.py::")}
    assert failed == FAILS[planted], output[-5000:]
    named = [line for line in output.splitlines() if "/empty by " in line]
    assert named, output[-5000:]
    assert all("must be refused" in line for line in named), "\n".join(named)

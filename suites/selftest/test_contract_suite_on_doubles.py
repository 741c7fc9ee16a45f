"""The contract suite's remote path (a target file's `storage`, its /documentation/json, the
schemathesis run, the declarations, the report note) runs in CI against the Storage API
protocol double served on loopback. A planted 500 (a negative offset crashes the bucket
listing) fails the suite as exactly its operation and status; the 500 Storage API v1.70.6 gives
a huge limit, planted too, is reported as declared and fails nothing. PostgREST's path (the
Swagger 2.0 description at its `/`) runs against the PostgREST protocol double."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from soberharness.runner.rest_matrix import RestKeys
from soberharness.targets.base import Target
from soberharness.testing.loopback import serve
from soberharness.testing.postgrest_protocol_double import BASE_URL, PostgrestProtocolDouble
from soberharness.testing.storage_double_openapi import HUGE_LIMIT_500, NEGATIVE_OFFSET_500
from soberharness.testing.storage_protocol_double import PREFIX, StorageApiDouble

REPO = Path(__file__).resolve().parents[2]
NAME = "contract-storage-double"
TEST = "suites/contract/test_service_contracts.py"
LISTING_500 = "storage GET /bucket/ -> 500 (server_error)"


def _target_file(folder: Path, url: str, service: str = "storage") -> Path:
    path = folder / f"{NAME}.toml"
    path.write_text("\n".join([
        f'name = "{NAME}"',
        f'capabilities = ["postgres", "{service}"]',
        "[urls]",
        f'{service} = "{url}"',
        "[secrets]",
        'anon_key_env = "DOUBLE_ANON_KEY"',
        'service_key_env = "DOUBLE_SERVICE_KEY"',
        'jwt_secret_env = "DOUBLE_JWT_SECRET"',
        'database_dsn_env = "DOUBLE_DSN"',
        "",
    ]))
    return path


def _suite(tmp_path: Path, target: Target, dsn: str, service: str,
           url: str) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    secret = target.keys.jwt_secret or ""
    keys = RestKeys.minted(secret)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBERHARNESS_", "PYTEST_"))}
    env |= {"DOUBLE_ANON_KEY": keys.anon_key, "DOUBLE_SERVICE_KEY": keys.service_key,
            "DOUBLE_JWT_SECRET": secret, "DOUBLE_DSN": dsn, "TMPDIR": str(tmp_path)}
    report = tmp_path / "reports" / "latest"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", TEST,
         "-k", service, "--target", str(_target_file(tmp_path, url, service)),
         "--report-dir", str(report)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    notes = json.loads((report / "summary.json").read_text())["notes"]
    return done, notes[f"API contract: {service}"]


def _run(tmp_path: Path, target: Target, dsn: str,
         planted: frozenset[str]) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    with StorageApiDouble(dsn, target.keys.jwt_secret or "", planted=planted) as double, \
            serve(double.transport()) as origin:
        return _suite(tmp_path, target, dsn, "storage", origin + PREFIX)


@pytest.mark.needs("postgres")
def test_a_planted_500_fails_as_its_operation_and_status(
    tmp_path: Path, target: Target, scratch_database: str
) -> None:
    done, note = _run(tmp_path, target, scratch_database,
                      frozenset({NEGATIVE_OFFSET_500, HUGE_LIMIT_500}))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "Traceback" not in output
    failing = note["failing"]  # type: ignore[index]
    assert len(failing) == 1, failing
    assert failing[0].startswith(f"{LISTING_500}: "), failing
    assert "offset=-" in failing[0], failing  # the replay is the request that drew it
    declared = note["declared"]  # type: ignore[index]
    assert [d.split(": ", 1)[0] for d in declared] == [LISTING_500], declared
    assert "limit unbounded" in declared[0], declared


@pytest.mark.needs("postgres")
def test_a_declared_500_alone_passes_and_is_reported_as_declared(
    tmp_path: Path, target: Target, scratch_database: str
) -> None:
    done, note = _run(tmp_path, target, scratch_database, frozenset({HUGE_LIMIT_500}))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "1 passed" in output, output[-2000:]
    assert note["failing"] == [], note  # type: ignore[index]
    assert [d.split(": ", 1)[0] for d in note["declared"]] == [LISTING_500], note  # type: ignore[index]
    assert note["operations run"] == ["GET /bucket/", "GET /bucket/{bucketId}"], note  # type: ignore[index]


@pytest.mark.needs("postgres")
def test_postgrest_is_checked_from_the_description_at_its_root(
    tmp_path: Path, target: Target, scratch_database: str
) -> None:
    double = PostgrestProtocolDouble(scratch_database, target.keys.jwt_secret or "")
    try:
        with serve(double) as origin:
            done, note = _suite(tmp_path, target, scratch_database, "rest",
                                origin + BASE_URL.split("postgrest.double", 1)[1])
    finally:
        double.close()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert (note["failing"], note["declared"]) == ([], []), note  # type: ignore[index]
    # every relation's read ran; its writes and the RPCs (POST) were left out as writes
    assert "GET /posts" in note["operations run"], note  # type: ignore[index, operator]
    assert any(e.startswith("POST /posts: writes") for e in note["excluded"]), note  # type: ignore[index, union-attr]

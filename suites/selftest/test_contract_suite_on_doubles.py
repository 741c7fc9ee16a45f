"""The contract suite's remote path (a target file's `storage`, its /documentation/json, the
schemathesis run, the declarations, the report note) runs in CI against the Storage API
protocol double served on loopback. A planted 500 (a negative offset crashes the bucket
listing) fails the suite as exactly its operation and status; the 500 Storage API v1.70.6 gives
a huge limit, planted too, is reported as declared and fails nothing. PostgREST's path (the
Swagger 2.0 description at its `/`) runs against the PostgREST protocol double, and GoTrue's
(the OpenAPI file the target file's GOTRUE_OPENAPI_SPEC names; URL-fetching SSO operations left
out) against the GoTrue protocol double. The destructive path runs on both doubles with a target
that opted in: writes only on the run's own bucket or user, which is gone afterwards; a planted
write that reaches the shared world (a bucket deleted, another user changed) fails naming it; a
target not opted in is sent no write."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from soberharness.db import session as db_session
from soberharness.targets.base import Target
from soberharness.testing.gotrue_double_openapi import openapi_description
from soberharness.testing.gotrue_double_users import PUT_REACHES_ANOTHER_USER
from soberharness.testing.gotrue_protocol_double import GoTrueProtocolDouble
from soberharness.testing.loopback import serve
from soberharness.testing.postgrest_protocol_double import BASE_URL, PostgrestProtocolDouble
from soberharness.testing.pytest_runs import double_env, double_target
from soberharness.testing.storage_double_openapi import (
    DELETE_FIRST_BUCKET,
    HUGE_LIMIT_500,
    NEGATIVE_OFFSET_500,
)
from soberharness.testing.storage_protocol_double import PREFIX, StorageApiDouble

REPO = Path(__file__).resolve().parents[2]
NAME = "contract-storage-double"
TEST = "suites/contract/test_service_contracts.py"
LISTING_500 = "storage GET /bucket/ -> 500 (server_error)"


def _suite(tmp_path: Path, target: Target, dsn: str, service: str, url: str,
           writes: bool = False) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    secret = target.keys.jwt_secret or ""
    env = double_env(tmp_path, secret, dsn)
    report = tmp_path / "reports" / "latest"
    which = f"writes and {service}" if writes else f"answers and {service}"
    confirm = ["--confirm-destructive", NAME] if writes else []
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", TEST,
         "-k", which, "--target",
         str(double_target(tmp_path, NAME, {service: url}, destructive=writes)),
         "--report-dir", str(report), *confirm],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    notes = json.loads((report / "summary.json").read_text())["notes"]
    key = f"API contract writes: {service}" if writes else f"API contract: {service}"
    return done, notes.get(key, {})


def _run(tmp_path: Path, target: Target, dsn: str, planted: frozenset[str],
         writes: bool = False) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    with StorageApiDouble(dsn, target.keys.jwt_secret or "", planted=planted) as double, \
            serve(double.transport()) as origin:
        return _suite(tmp_path, target, dsn, "storage", origin + PREFIX, writes)


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


GOTRUE_NAME = "contract-gotrue-double"
# Users the GoTrue double has before the run: the shared world a write must not reach.
SHARED_USERS = [
    {"id": "00000000-0000-4000-8000-000000000001", "email": "shared-one@example.invalid",
     "email_confirm": True, "user_metadata": {"name": "one"}},
    {"id": "00000000-0000-4000-8000-000000000002", "email": "shared-two@example.invalid",
     "user_metadata": {"name": "two"}},
]
SHARED_IDS = {u["id"] for u in SHARED_USERS}


def _gotrue_suite(tmp_path: Path, target: Target, dsn: str, double: GoTrueProtocolDouble,
                  which: str, destructive: bool = False
                  ) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    """The contract suite's `which` test (-k) against the GoTrue double, from the spec file the
    target file names (our own description of the double's routes); its report note."""
    spec = tmp_path / "gotrue-openapi.json"
    spec.write_text(json.dumps(openapi_description()))
    path = double_target(tmp_path, GOTRUE_NAME, {"auth": double.url}, destructive=destructive)
    path.write_text(path.read_text() + f'[settings]\nGOTRUE_OPENAPI_SPEC = "{spec}"\n')
    report = tmp_path / "reports" / "latest"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", TEST,
         "-k", which, "--target", str(path), "--report-dir", str(report),
         "--confirm-destructive", GOTRUE_NAME],
        cwd=REPO, env=double_env(tmp_path, target.keys.jwt_secret or "", dsn),
        capture_output=True, text=True, timeout=300)
    summary = report / "summary.json"
    notes = json.loads(summary.read_text())["notes"] if summary.is_file() else {}
    key = "API contract writes: auth" if "writes" in which else "API contract: auth"
    return done, notes.get(key, {})


GOTRUE_DECLARED = ["auth GET /admin/audit -> 500 (server_error)",
                   "auth GET /admin/users -> 500 (server_error)"]


def _declared(note: dict[str, object]) -> list[str]:
    return [d.split(": ", 1)[0] for d in note["declared"]]  # type: ignore[attr-defined]


def _writes(double: GoTrueProtocolDouble) -> list[str]:
    return [f"{m} {p.split('?', 1)[0]}" for m, p, _k in double.requests if m != "GET"]


@pytest.mark.needs("postgres")
def test_gotrue_is_checked_from_the_spec_file_the_target_names(
    tmp_path: Path, target: Target, scratch_database: str
) -> None:
    with GoTrueProtocolDouble(users=SHARED_USERS) as double:
        done, note = _gotrue_suite(tmp_path, target, scratch_database, double,
                                   "answers and auth")
        asked = [p for _m, p, _k in double.requests]
        writes = _writes(double)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "1 passed" in output, output[-2000:]
    assert note["operations run"] == ["GET /health", "GET /admin/audit", "GET /admin/users",
                                      "GET /admin/users/{userId}"], note
    assert note["failing"] == [], note
    # GoTrue's per_page=0 division by zero, answered by the double as GoTrue does: declared.
    assert _declared(note) == GOTRUE_DECLARED, note
    excluded = dict(e.split(": ", 1) for e in note["excluded"])  # type: ignore[union-attr]
    assert excluded["GET /admin/sso/providers"] == "makes the service fetch a URL", excluded
    assert excluded["POST /admin/sso/providers"] == "makes the service fetch a URL", excluded
    assert excluded["POST /invite"].startswith("writes"), excluded
    assert excluded["PUT /admin/users/{userId}"].startswith("writes are not run"), excluded
    assert any(p.startswith("/auth/v1/admin/audit?") for p in asked), asked
    assert not [p for p in asked if "/sso" in p or "/invite" in p], asked
    assert writes == [], writes


@pytest.mark.needs("postgres")
def test_gotrue_writes_run_on_an_opted_in_target_on_its_own_user_only(
    tmp_path: Path, target: Target, scratch_database: str
) -> None:
    with GoTrueProtocolDouble(users=SHARED_USERS) as double:
        before = double.admin.snapshot()
        done, note = _gotrue_suite(tmp_path, target, scratch_database, double,
                                   "writes and auth", destructive=True)
        after = double.admin.snapshot()
        writes = _writes(double)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "1 passed" in output, output[-2000:]
    assert note["world untouched"] is True and note["own resources left"] == [], note
    assert note["failing"] == [] and _declared(note) == GOTRUE_DECLARED, note
    ran = note["operations run"]
    assert {"PUT /admin/users/{userId}", "DELETE /admin/users/{userId}"} <= set(ran), note  # type: ignore[arg-type]
    excluded = dict(e.split(": ", 1) for e in note["excluded"])  # type: ignore[union-attr]
    assert excluded["POST /admin/users"].startswith(
        "writes only on the run's own resources"), excluded
    assert excluded["POST /invite"].startswith("writes only on the run's own resources"), excluded
    # the run made one user of its own (the only POST), wrote to it alone, and removed it
    assert after == before, sorted(after)
    assert [w for w in writes if w.startswith("POST")] == ["POST /auth/v1/admin/users"], writes
    touched = {w.rsplit("/", 1)[1] for w in writes if not w.startswith("POST")}
    assert len(touched) == 1 and not touched & SHARED_IDS, touched
    assert any(w.startswith("PUT ") for w in writes), writes


@pytest.mark.needs("postgres")
def test_a_gotrue_write_that_reaches_another_user_fails_naming_that_user(
    tmp_path: Path, target: Target, scratch_database: str
) -> None:
    with GoTrueProtocolDouble(users=SHARED_USERS,
                              planted=frozenset({PUT_REACHES_ANOTHER_USER})) as double:
        done, note = _gotrue_suite(tmp_path, target, scratch_database, double,
                                   "writes and auth", destructive=True)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "Traceback" not in output
    assert note["world untouched"] is False, note
    # every misdirected PUT reached the first other user by id: that one, and only it
    assert note["world changes"] == [f"changed ['{SHARED_USERS[0]['id']}']"], note
    assert f"the shared world changed: changed ['{SHARED_USERS[0]['id']}']" in output, (
        output[-3000:])


@pytest.mark.needs("postgres")
def test_gotrue_writes_are_refused_on_a_target_that_did_not_opt_in(
    tmp_path: Path, target: Target, scratch_database: str
) -> None:
    with GoTrueProtocolDouble(users=SHARED_USERS) as double:
        done, _note = _gotrue_suite(tmp_path, target, scratch_database, double,
                                    "writes and auth")
        writes = _writes(double)
    output = done.stdout + done.stderr
    assert "1 skipped" in output, output[-2000:]
    assert "does not set [destructive] allowed = true" in output, output[-2000:]
    assert writes == []


@pytest.mark.needs("postgres")
def test_writes_run_on_an_opted_in_target_on_its_own_bucket_only(
    tmp_path: Path, target: Target, scratch_database: str
) -> None:
    done, note = _run(tmp_path, target, scratch_database, frozenset(), writes=True)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "1 passed" in output, output[-2000:]
    assert note["world untouched"] is True and note["own resources left"] == [], note
    ran = note["operations run"]
    assert {"PUT /bucket/{bucketId}", "POST /bucket/{bucketId}/empty",
            "DELETE /bucket/{bucketId}"} <= set(ran), note  # type: ignore[arg-type]
    excluded = dict(e.split(": ", 1) for e in note["excluded"])  # type: ignore[union-attr]
    assert excluded["POST /bucket"].startswith("writes only on the run's own resources"), excluded


@pytest.mark.needs("postgres")
def test_a_write_that_reaches_the_shared_world_fails_naming_what_it_removed(
    tmp_path: Path, target: Target, scratch_database: str
) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute("insert into storage.buckets (id, name) values ('aaa-shared', 'aaa-shared')")
    done, note = _run(tmp_path, target, scratch_database, frozenset({DELETE_FIRST_BUCKET}),
                      writes=True)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert note["world untouched"] is False, note
    # every misdirected delete took the first bucket there was: the planted one first
    assert "the shared world changed: gone ['aaa-shared'" in output, output[-3000:]


@pytest.mark.needs("postgres")
def test_writes_are_refused_on_a_target_that_did_not_opt_in(
    tmp_path: Path, target: Target, scratch_database: str
) -> None:
    with StorageApiDouble(scratch_database, target.keys.jwt_secret or "") as double, \
            serve(double.transport()) as origin:
        path = double_target(tmp_path, NAME, {"storage": origin + PREFIX})
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", TEST,
             "-k", "writes and storage", "--target", str(path),
             "--confirm-destructive", NAME, "--report-dir", str(tmp_path / "r" / "latest")],
            cwd=REPO, env=double_env(tmp_path, target.keys.jwt_secret or "", scratch_database),
            capture_output=True, text=True, timeout=300)
        asked = [f"{r.method} {r.url.path}" for r in double.requests if r.method != "GET"]
    output = done.stdout + done.stderr
    assert "1 skipped" in output, output[-2000:]
    assert "does not set [destructive] allowed = true" in output, output[-2000:]
    assert asked == []

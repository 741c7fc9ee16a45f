"""Files move between clouds (seed 2.2.3, 6.2.4): `python -m soberharness.cloud_move` with two
object stores moves the object bytes as well as the rows between two real S3-compatible stores
(two versitygw gateways on loopback, posix backends in temporary directories), verifies every
object by size and sha256, and resumes after a kill without copying anything twice. Each
planted defect on the destination (a truncated, lost or altered object, an object without a
row, a row without an object) is reported as exactly that object."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from soberharness.clients.s3 import S3Client, S3Store
from soberharness.cloud_move import main
from soberharness.cloud_move.gateway import VersityGateway
from soberharness.cloud_move.objects import Location
from soberharness.cloud_move.verdict import ObjectFacts, judge
from soberharness.db import session as db_session
from soberharness.errors import HarnessError
from soberharness.targets.base import DatabaseProvisioning, Target, lacks
from soberharness.targets.services.tools import find_tool, missing_reason

SRC, DST = "SOBER_MOVE_SOURCE_DSN", "SOBER_MOVE_DEST_DSN"
SRC_STORE, DST_STORE = "SOBER_MOVE_SOURCE_STORE", "SOBER_MOVE_DEST_STORE"
BUCKET = "move-files"
OBJECTS = 60
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Clouds:
    env: dict[str, str]
    src: Location
    dst: Location
    dst_dsn: str
    bodies: dict[str, bytes]  # name -> bytes

    def run(self, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
        code = main(["--from-env", SRC, "--to-env", DST, "--objects-from-env", SRC_STORE,
                     "--objects-to-env", DST_STORE, *args], environ=self.env)
        out = capsys.readouterr()
        return code, (out.out + out.err).strip().splitlines()


def _spec(location: Location) -> str:
    return json.dumps({"endpoint": location.store.endpoint, "bucket": location.bucket,
                       "access_key": location.store.access_key,
                       "secret_key": location.store.secret_key, "prefix": location.prefix})


def _fill_source(dsn: str, src: Location) -> dict[str, bytes]:
    rng = random.Random(24)
    bodies = {f"avatars/user-{i:03d}.png": rng.randbytes(rng.randint(8_000, 120_000))
              for i in range(OBJECTS)}
    with db_session.connect(dsn, autocommit=True) as conn:
        conn.execute("insert into storage.buckets (id, name) values (%s, %s) "
                     "on conflict do nothing", (BUCKET, BUCKET))
        for name, body in bodies.items():
            conn.execute("insert into storage.objects (bucket_id, name, metadata) "
                         "values (%s, %s, %s)", (BUCKET, name, json.dumps({"size": len(body)})))
    with S3Client(src.store) as client:
        for name, body in bodies.items():
            client.put_object(src.bucket, f"{src.prefix}/{BUCKET}/{name}", body)
    return bodies


@pytest.fixture(scope="module")
def clouds(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clouds]:
    if not isinstance(target, DatabaseProvisioning):
        pytest.skip(lacks(target, DatabaseProvisioning))
    if find_tool("versitygw") is None:
        pytest.skip(missing_reason("versitygw"))
    source, dest = target.new_database("objsrc"), target.new_database("objdst")
    gateways = [VersityGateway(tmp_path_factory.mktemp(f"cloud-{n}"), n) for n in ("a", "b")]
    try:
        for gateway in gateways:
            gateway.start()
        src = gateways[0].location("supabase-storage")
        dst = gateways[1].location("other-cloud", prefix="tenant-b")
        bodies = _fill_source(target.admin_dsn(source), src)
        env = {SRC: target.admin_dsn(source), DST: target.admin_dsn(dest),
               SRC_STORE: _spec(src), DST_STORE: _spec(dst)}
        yield Clouds(env, src, dst, target.admin_dsn(dest), bodies)
    finally:
        for gateway in gateways:
            gateway.stop()
        target.drop_database(source)
        target.drop_database(dest)


@pytest.fixture(scope="module")
def moved(clouds: Clouds) -> list[str]:
    """The first move (rows and bytes): its output lines."""
    code = main(["--from-env", SRC, "--to-env", DST, "--replace", "--objects-from-env",
                 SRC_STORE, "--objects-to-env", DST_STORE], environ=clouds.env)
    assert code == 0
    return []


def _dst_key(clouds: Clouds, name: str) -> str:
    return f"{clouds.dst.prefix}/{BUCKET}/{name}"


def test_move_copies_every_object_byte_for_byte(clouds: Clouds, moved: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = clouds.run("--check-only", capsys=capsys)
    assert code == 0, lines
    assert lines[-1] == "source and destination agree"
    with S3Client(clouds.dst.store) as client:
        for name, body in clouds.bodies.items():
            assert client.get_object(clouds.dst.bucket, _dst_key(clouds, name)) == body
    # a second move copies nothing: everything is there already
    code, lines = clouds.run("--objects-only", capsys=capsys)
    assert code == 0 and not [ln for ln in lines if ln.startswith("copied ")], lines
    assert f"objects: 0 copied (0 bytes), {OBJECTS} already there" in lines


def test_move_resumes_after_a_kill_without_copying_twice(
        clouds: Clouds, moved: list[str], capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    fresh = Location(clouds.dst.store, clouds.dst.bucket, "tenant-resume")
    env = {**os.environ, **clouds.env, DST_STORE: _spec(fresh)}
    out = tmp_path / "first.out"
    argv = [sys.executable, "-m", "soberharness.cloud_move", "--from-env", SRC, "--to-env", DST,
            "--objects-from-env", SRC_STORE, "--objects-to-env", DST_STORE, "--objects-only"]
    with out.open("w") as handle:
        proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                cwd=REPO, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while out.read_text().count("copied ") < 3 and proc.poll() is None:
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, "the first run finished before it was killed"
    first = {ln.split(" ", 1)[1] for ln in out.read_text().splitlines()
             if ln.startswith("copied ")}
    assert 3 <= len(first) < OBJECTS
    code = main(argv[3:], environ={**clouds.env, DST_STORE: _spec(fresh)})
    lines = capsys.readouterr().out.splitlines()
    second = {ln.split(" ", 1)[1] for ln in lines if ln.startswith("copied ")}
    assert code == 0, lines
    assert not first & second, f"copied twice: {sorted(first & second)}"
    every = {f"tenant-resume/{BUCKET}/{name}" for name in clouds.bodies}
    # at most the object in flight at the kill was written but not yet reported
    assert every - (first | second) == set() or len(every - (first | second)) == 1
    assert lines[-1] == "source and destination agree"


def _truncate(client: S3Client, clouds: Clouds, key: str, body: bytes) -> None:
    client.put_object(clouds.dst.bucket, key, body[: len(body) // 2])


def _lose(client: S3Client, clouds: Clouds, key: str, body: bytes) -> None:
    client.delete_object(clouds.dst.bucket, key)


def _alter(client: S3Client, clouds: Clouds, key: str, body: bytes) -> None:
    client.put_object(clouds.dst.bucket, key, bytes([body[0] ^ 0xFF]) + body[1:])


PLANTED = {"truncated": _truncate, "lost": _lose, "altered": _alter}


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_planted_object_defect_is_reported_as_exactly_that_object(
        clouds: Clouds, moved: list[str], capsys: pytest.CaptureFixture[str], kind: str) -> None:
    name = sorted(clouds.bodies)[7]
    key, body = _dst_key(clouds, name), clouds.bodies[name]
    with S3Client(clouds.dst.store) as client:
        PLANTED[kind](client, clouds, key, body)
        try:
            code, lines = clouds.run("--check-only", "--objects-only", capsys=capsys)
        finally:
            client.put_object(clouds.dst.bucket, key, body)
    diffs = [ln for ln in lines if ln.startswith("DIFF ")]
    assert code == 1
    assert diffs == [ln for ln in diffs if ln.startswith(f"DIFF object {kind}: {BUCKET}/{name}:")]
    assert len(diffs) == 1, diffs


def test_planted_object_without_row_and_row_without_object(
        clouds: Clouds, moved: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    stray = f"{clouds.dst.prefix}/{BUCKET}/avatars/stray.png"
    with S3Client(clouds.dst.store) as client, \
            db_session.connect(clouds.dst_dsn, autocommit=True) as conn:
        client.put_object(clouds.dst.bucket, stray, b"no row names me")
        conn.execute("insert into storage.objects (bucket_id, name, metadata) values "
                     "(%s, 'avatars/ghost.png', '{\"size\": 5}')", (BUCKET,))
        try:
            code, lines = clouds.run("--check-only", "--objects-only", capsys=capsys)
        finally:
            client.delete_object(clouds.dst.bucket, stray)
            with conn.transaction():  # past the stack's guard against direct deletion
                conn.execute("set local session_replication_role = replica")
                conn.execute("delete from storage.objects where name = 'avatars/ghost.png'")
    diffs = sorted(ln for ln in lines if ln.startswith("DIFF "))
    assert code == 1
    assert len(diffs) == 2, diffs
    assert diffs[0].startswith(f"DIFF object no object: {BUCKET}/avatars/ghost.png:")
    assert diffs[1].startswith(f"DIFF object no row: {BUCKET}/avatars/stray.png:")


@pytest.mark.target_independent
def test_object_judge_kinds() -> None:
    a, b = ObjectFacts(10, "a" * 64), ObjectFacts(10, "b" * 64)
    rows = {"x": 10, "y": 10, "z": 10, "w": None, "v": 9}
    source = {"x": a, "y": a, "z": a, "v": a}
    dest = {"x": ObjectFacts(4, "c" * 64), "y": b, "u": a, "v": a}
    assert [(f.kind, f.key) for f in judge(rows, source, dest)] == [
        ("size", "v"), ("no object", "w"), ("truncated", "x"), ("altered", "y"), ("lost", "z"),
        ("no row", "u")]
    assert judge({"x": 10}, {"x": a}, {"x": a}) == []


@pytest.mark.target_independent
@pytest.mark.parametrize(("spec", "expected"), [
    ("not json", f"${SRC_STORE} is not a store spec"),
    ('{"endpoint": "http://127.0.0.1:9", "access_key": "a", "secret_key": "s3cr3t-value"}',
     f"${SRC_STORE} is not a store spec"),
    ("", f"environment variable {SRC_STORE} is not set (it should hold an object store"),
])
def test_bad_store_spec_is_one_line_without_the_secret(
        spec: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    env = {SRC: "host=127.0.0.1 port=9", DST: "host=127.0.0.1 port=9", SRC_STORE: spec,
           DST_STORE: spec}
    code = main(["--from-env", SRC, "--to-env", DST, "--objects-from-env", SRC_STORE,
                 "--objects-to-env", DST_STORE], environ=env)
    out = capsys.readouterr()
    assert code == 4 and out.out == ""  # bad input (README: exit codes)
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert "s3cr3t" not in out.err


@pytest.mark.target_independent
def test_unreachable_store_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with S3Client(S3Store("http://127.0.0.1:9", "ak", "s3cr3t"), timeout=2) as client, \
            pytest.raises(HarnessError) as caught:
        client.head_object("bucket", "key")
    assert "did not answer HEAD /bucket/key" in str(caught.value)
    assert "s3cr3t" not in str(caught.value) and "s3cr3t" not in repr(client.store)

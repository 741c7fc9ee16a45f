"""A run killed on a shared database leaves its matrix world behind; later runs remove the
worlds of dead runs only. A run is alive while its session holds its liveness lock
(workload/run_liveness.py): planted here are a dead run's world, a live run's world (held by
another process), and that process then killed with SIGKILL."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from soberharness.db import session as db_session
from soberharness.db.seed import leftovers, write_world
from soberharness.workload.run_liveness import remove_stale_worlds
from soberharness.world.matrix_world import build_matrix_world

LIVE_RUN = """
import sys, time
from soberharness.workload.run_liveness import RunLock
from soberharness.db.seed import write_world
from soberharness.world.matrix_world import build_matrix_world
import psycopg
dsn = sys.argv[1]
with RunLock(dsn, "live0002"):
    with psycopg.connect(dsn, autocommit=True) as conn:
        write_world(conn, build_matrix_world("live0002").world)
    print("READY", flush=True)
    time.sleep(120)
"""


@pytest.mark.needs("postgres")
def test_only_dead_runs_worlds_are_removed(scratch_database: str) -> None:
    dead, live = build_matrix_world("dead0001"), build_matrix_world("live0002")
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, dead.world)  # a run that was killed: nobody holds its lock
    holder = subprocess.Popen([sys.executable, "-c", LIVE_RUN, scratch_database],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "READY"
        with db_session.connect(scratch_database, autocommit=True) as conn:
            sweep = remove_stale_worlds(conn, own_run_id="mine0003")
            assert sweep.removed == ["dead0001"] and sweep.live == ["live0002"]
            assert leftovers(conn, dead.world) == {}
            assert leftovers(conn, live.world), "a live run's world was touched"

            holder.kill()  # SIGKILL: no clean-up of its own
            holder.wait(10)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                sweep = remove_stale_worlds(conn, own_run_id="mine0003")
                if sweep.removed:
                    break
                time.sleep(0.2)
            assert sweep.removed == ["live0002"] and sweep.live == []
            assert leftovers(conn, live.world) == {}
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)

"""Matrix cells per second, beside `pgbench -S` on the same server in the same run.

`python -m soberharness.bench.matrix_rate [--rounds N] [--seconds S]` starts a local target,
runs the access matrix N times, runs pgbench's select-only script with as many clients as the
matrix uses workers, and prints both rates and their ratio. A cell is a whole PostgREST-style
request (begin, role switch and claims, the statement, rollback); a pgbench -S transaction is
one primary-key select.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import statistics
import subprocess

from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.errors import HarnessError
from soberharness.runner.matrix import run_matrix
from soberharness.targets.local import LocalTarget
from soberharness.world.matrix_world import build_matrix_world


@dataclasses.dataclass(frozen=True)
class RateComparison:
    cells: int
    cells_per_second: float  # median over rounds
    pgbench_tps: float
    workers: int

    @property
    def ratio(self) -> float:
        return self.cells_per_second / self.pgbench_tps if self.pgbench_tps else 0.0

    def line(self) -> str:
        return (
            f"matrix: {self.cells} cells at {self.cells_per_second:,.0f} cells/s; "
            f"pgbench -S -c {self.workers}: {self.pgbench_tps:,.0f} tps; "
            f"ratio {self.ratio:.2f}"
        )


def pgbench_tps(target: LocalTarget, clients: int, seconds: int) -> float:
    """Select-only pgbench throughput on the target's server (scale 1, its own database)."""
    name = "pgbench_ref"
    target.pg.create_database(name)
    try:
        base = [
            str(target.pg.bindir / "pgbench"),
            "-h", "127.0.0.1", "-p", str(target.pg.port), "-U", "supabase_admin",
        ]
        init = subprocess.run(
            [*base, "-i", "-s", "1", "-q", name], capture_output=True, text=True, timeout=120
        )
        if init.returncode != 0:
            raise HarnessError(f"pgbench -i failed: {init.stderr.strip().splitlines()[-1:]}")
        run = subprocess.run(
            [*base, "-S", "-n", "-c", str(clients), "-j", str(clients), "-T", str(seconds), name],
            capture_output=True, text=True, timeout=seconds + 60,
        )
        found = re.search(r"tps = ([\d.]+)", run.stdout)
        if run.returncode != 0 or not found:
            raise HarnessError(f"pgbench -S failed: {run.stderr.strip().splitlines()[-1:]}")
        return float(found.group(1))
    finally:
        target.pg.drop_database(name)


def measure(target: LocalTarget, rounds: int = 3, seconds: int = 3, workers: int = 2
            ) -> RateComparison:
    mw = build_matrix_world()
    name = target.new_database("bench")
    try:
        dsn = target.admin_dsn(name)
        with db_session.connect(dsn, autocommit=True) as conn:
            write_world(conn, mw.world)
        runs = [run_matrix(dsn, mw, workers=workers) for _ in range(rounds)]
    finally:
        target.drop_database(name)
    rate = statistics.median(r.rate for r in runs)
    return RateComparison(len(runs[0].results), rate, pgbench_tps(target, workers, seconds),
                          workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    target = LocalTarget()
    try:
        target.start()
        print(measure(target, args.rounds, args.seconds, args.workers).line())
    except HarnessError as exc:
        raise SystemExit(f"matrix_rate: {exc}") from None
    finally:
        target.stop()


if __name__ == "__main__":
    main()

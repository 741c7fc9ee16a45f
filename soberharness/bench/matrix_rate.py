"""Matrix cells per second, beside `pgbench -S` on the same server in the same run.

`python -m soberharness.bench.matrix_rate [--rounds N] [--seconds S] [--split]` starts a local
target, runs the access matrix N times (each on a fresh copy of its world), runs pgbench's
select-only script with as many clients as the matrix uses workers, and prints both rates and
their ratio; `--split` also prints what the server does per cell with the harness's set-up and
read-back left out, and with the request's query left out, each as the median and range of
its ratio over the same N rounds (each round with its own pgbench run). A cell is a whole
PostgREST-style request (begin, role switch and claims, the statement, rollback); a pgbench -S
transaction is one primary-key select.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import queue
import re
import statistics
import subprocess
import time
from collections.abc import Callable

from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.errors import HarnessError
from soberharness.records.results import Op
from soberharness.runner import batched
from soberharness.runner.matrix import BATCHED, plan, run_matrix
from soberharness.targets.local import LocalTarget
from soberharness.workload.matrix_cases import cells as build_cells
from soberharness.world.matrix_world import MatrixWorld, build_matrix_world


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


def _world_database(target: LocalTarget, mw: MatrixWorld) -> str:
    name = target.new_database("bench")
    try:
        with db_session.connect(target.admin_dsn(name), autocommit=True) as conn:
            write_world(conn, mw.world)
    except BaseException:
        target.drop_database(name)
        raise
    return name


def _one_round(target: LocalTarget, mw: MatrixWorld, workers: int) -> float:
    """One run of the matrix on a fresh copy of its world, as `pytest suites/security` runs it
    (rolled-back cells still leave dead rows behind: a second run on the same copy is slower)."""
    name = _world_database(target, mw)
    try:
        return run_matrix(target.admin_dsn(name), mw, workers=workers).rate
    finally:
        target.drop_database(name)


def measure(target: LocalTarget, rounds: int = 3, seconds: int = 3, workers: int = 2
            ) -> RateComparison:
    mw = build_matrix_world()
    rate = statistics.median(_one_round(target, mw, workers) for _ in range(rounds))
    cells = sum(1 for _ in build_cells(mw))
    return RateComparison(cells, rate, pgbench_tps(target, workers, seconds), workers)


# What `--split` runs: the planned cells, with parts of each left out.
PARTS: dict[str, Callable[[batched.Shape], batched.Shape]] = {
    "whole cells": lambda s: s,
    "requests alone (no set-up, no read-back)": lambda s: dataclasses.replace(
        s, setup=(), counts=None, check=None),
    "harness alone (the query replaced by SELECT 1)": lambda s: dataclasses.replace(
        s, query=b"SELECT 1"),
}


def _server_rate(dsn: str, ops: list[Op], shapes: list[batched.Shape], workers: int) -> float:
    """Cells/s of already planned cells, 64 to a server-side call on `workers` connections."""
    chunks = [(ops[i:i + BATCHED], shapes[i:i + BATCHED])
              for i in range(0, len(shapes), BATCHED)]
    todo: queue.SimpleQueue[tuple[list[Op], list[batched.Shape]]] = queue.SimpleQueue()
    for chunk in chunks:
        todo.put(chunk)

    def work() -> None:
        with db_session.connect(dsn, autocommit=True) as conn:
            if not batched.install(conn):
                raise HarnessError("the server refused the batched cells' pg_temp function")
            while True:
                try:
                    chunk_ops, chunk_shapes = todo.get_nowait()
                except queue.Empty:
                    return
                if batched.run(conn, chunk_ops, chunk_shapes) is None:
                    raise HarnessError("a batch of cells failed as a whole")

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for done in [pool.submit(work) for _ in range(workers)]:
            done.result()
    return len(shapes) / (time.perf_counter() - began)


def _split_round(target: LocalTarget, mw: MatrixWorld, ops: list[Op],
                 shapes: list[batched.Shape], workers: int, seconds: int) -> dict[str, float]:
    """One round of `split`: each part's cells/s on a fresh copy of the world, as a ratio to
    the pgbench -S run that follows them."""
    rates: dict[str, float] = {}
    for label, part in PARTS.items():
        name = _world_database(target, mw)
        try:
            rates[label] = _server_rate(target.admin_dsn(name), ops, [part(s) for s in shapes],
                                        workers)
        finally:
            target.drop_database(name)
    tps = pgbench_tps(target, workers, seconds)
    return {label: rate / tps for label, rate in rates.items()}


def split(target: LocalTarget, workers: int = 2, seconds: int = 3, rounds: int = 1
          ) -> list[str]:
    """Where a cell's server time goes: the planned cells run whole, as their requests alone,
    and as the harness's statements alone, each on a fresh copy of the world, beside
    `pgbench -S` run after them in the same round (planning in Python left out: the cells are
    planned before); the median and range of each part's ratio over `rounds` rounds."""
    mw = build_matrix_world()
    planned = plan(mw)
    ops = [p.op for p in planned]
    shapes = [batched.shape(p.statements, p.setup_statements,
                            None if p.check is None else p.check.relation, p.settings)
              for p in planned]
    ratios = [_split_round(target, mw, ops, shapes, workers, seconds) for _ in range(rounds)]
    lines = []
    for label in PARTS:
        seen = [r[label] for r in ratios]
        lines.append(f"{label}: ratio {statistics.median(seen):.2f} to pgbench -S -c {workers} "
                     f"(median of {rounds}; {min(seen):.2f}-{max(seen):.2f})")
    return lines


def positive(text: str) -> int:
    """A command-line count that must be 1 or more (rounds, seconds, workers, examples)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=positive, default=5)
    parser.add_argument("--seconds", type=positive, default=5)
    parser.add_argument("--workers", type=positive, default=2)
    parser.add_argument("--split", action="store_true",
                        help="also print the rates of the requests alone and the harness alone")
    args = parser.parse_args()
    target = LocalTarget()
    try:
        target.start()
        print(measure(target, args.rounds, args.seconds, args.workers).line())
        if args.split:
            print("\n".join(split(target, args.workers, args.seconds, args.rounds)))
    except HarnessError as exc:
        raise SystemExit(f"matrix_rate: {exc}") from None
    except KeyboardInterrupt:
        raise SystemExit("matrix_rate: interrupted") from None
    finally:
        target.stop()


if __name__ == "__main__":
    main()

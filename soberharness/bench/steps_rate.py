"""State-machine steps per second, beside `pgbench -S` on the same server in the same run.

`python -m soberharness.bench.steps_rate [--examples N] [--seconds S] [--rounds R] [--matrix]`
starts a local target, runs the security state machine for N examples on a database of its own,
runs pgbench's select-only script on the same server, and prints both rates and their ratio;
with R rounds (each its own database and pgbench run) a line per round and the median ratio
(`--matrix` also prints the matrix's cells per second, see soberharness.bench.matrix_rate).
A step is one action committed as PostgREST commits it (one or two requests) followed by
the whole check: the superuser's rows of the sequence and, when they changed, every
viewer's reads of every table (six viewers); a pgbench -S transaction is one primary-key
select, so the ratio says how many of the cheapest queries one checked step costs.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from hypothesis import settings

from soberharness.bench.matrix_rate import measure as measure_matrix
from soberharness.bench.matrix_rate import pgbench_tps, positive
from soberharness.db import session as db_session
from soberharness.errors import HarnessError
from soberharness.runner.sequence import SequenceRunner
from soberharness.runner.state_machine import DEPTHS, search
from soberharness.targets.local import LocalTarget


@dataclasses.dataclass(frozen=True)
class StepsRate:
    steps: int
    seconds: float
    pgbench_tps: float
    clients: int
    failure: str | None = None  # the first line of a failure, if the machine found one

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.steps_per_second / self.pgbench_tps if self.pgbench_tps else 0.0

    def line(self) -> str:
        found = f" (the machine failed: {self.failure})" if self.failure else ""
        return (
            f"state machine: {self.steps} steps at {self.steps_per_second:,.1f} steps/s"
            f"{found}; pgbench -S -c {self.clients}: {self.pgbench_tps:,.0f} tps; "
            f"ratio {self.ratio:.4f} (one step costs {1 / self.ratio if self.ratio else 0:,.0f} "
            "pgbench transactions)"
        )


def measure(target: LocalTarget, examples: int = 40, seconds: int = 5) -> StepsRate:
    name = target.new_database("steps")
    try:
        with db_session.connect(target.admin_dsn(name), autocommit=True) as conn:
            runner = SequenceRunner(conn)
            how = settings(DEPTHS["ci"], max_examples=examples, derandomize=True, database=None)
            began = time.perf_counter()
            failure = search(runner, how)
            elapsed = time.perf_counter() - began
    finally:
        target.drop_database(name)
    # The machine runs on one connection: compare with one pgbench client.
    first = failure.describe().splitlines()[0] if failure else None
    return StepsRate(runner.steps_run, elapsed, pgbench_tps(target, 1, seconds), 1, first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=positive, default=40)
    parser.add_argument("--seconds", type=positive, default=5)
    parser.add_argument("--rounds", type=positive, default=1)
    parser.add_argument("--matrix", action="store_true", help="also print matrix cells/s")
    args = parser.parse_args()
    target = LocalTarget()
    try:
        target.start()
        rates = []
        for _ in range(args.rounds):
            rates.append(measure(target, args.examples, args.seconds))
            print(rates[-1].line(), flush=True)
        if len(rates) > 1:
            ratios = [r.ratio for r in rates]
            print(f"state machine: median ratio {statistics.median(ratios):.4f} over "
                  f"{len(rates)} rounds ({min(ratios):.4f}-{max(ratios):.4f})")
        if args.matrix:
            print(measure_matrix(target, 3, args.seconds).line())
    except HarnessError as exc:
        raise SystemExit(f"steps_rate: {exc}") from None
    except KeyboardInterrupt:
        raise SystemExit("steps_rate: interrupted") from None
    finally:
        target.stop()


if __name__ == "__main__":
    main()

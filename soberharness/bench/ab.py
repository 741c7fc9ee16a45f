"""A/B timing on one server in one run: the stack at a baseline revision against the stack
under test, rounds interleaved, judged by soberharness.checker.regression.

Both databases live on the same PostgreSQL server and hold the same generated data. Within
each round the sides alternate call by call (A B, B A, ...), so a busy neighbour, a frequency
change or a noisy stretch of the run weighs on both sides alike, and each round runs on
another of each side's connections (server backends); a regression is measured twice before
it is reported. Nothing is compared with figures from another machine or another run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import psycopg

from soberharness.checker.regression import ALPHA, MIN_EFFECT, Verdict, judge
from soberharness.db import session as db_session
from soberharness.targets.migrations import Migration, discover
from soberharness.world.scale import Probes, ScaleSpec, generate, load, probes

ROUND_SECONDS = 0.005  # a round lasts at least this long: fast queries run several times
MAX_CALLS = 50
WARMUP_ROUNDS = 2

Call = Callable[[], object]


def _timed(call: Call) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def calls_per_round(*calls: Call, round_seconds: float = ROUND_SECONDS,
                    max_calls: int = MAX_CALLS) -> int:
    """How many calls make a round of at least `round_seconds` (by the fastest side)."""
    single = min(min(_timed(call) for _ in range(3)) for call in calls)
    return max(1, min(max_calls, math.ceil(round_seconds / max(single, 1e-6))))


Calls = Call | Sequence[Call]


def _rotation(calls: Calls) -> Sequence[Call]:
    return (calls,) if callable(calls) else tuple(calls)


def interleaved_rounds(baseline: Calls, candidate: Calls, rounds: int,
                       warmup: int = WARMUP_ROUNDS,
                       calls: int | None = None) -> tuple[list[float], list[float]]:
    """Per-call seconds of `rounds` rounds on each side.

    Within a round the sides alternate call by call (A B, B A, ...), each call timed on its
    own, so both sides' samples come from the same few milliseconds of the machine's life.
    Each side may be given several equivalent calls (one per connection, i.e. per server
    backend): round n uses the n-th, so that a backend the scheduler happens to treat worse
    does not weigh on one side for a whole comparison."""
    sides = (_rotation(baseline), _rotation(candidate))
    if calls is None:
        calls = calls_per_round(sides[0][0], sides[1][0])
    out: tuple[list[float], list[float]] = ([], [])
    for n in range(warmup + rounds):
        pair = (sides[0][n % len(sides[0])], sides[1][n % len(sides[1])])
        spent = [0.0, 0.0]
        for i in range(calls):
            for side in ((0, 1) if (n + i) % 2 == 0 else (1, 0)):
                began = time.perf_counter()
                pair[side]()
                spent[side] += time.perf_counter() - began
        if n >= warmup:
            out[0].append(spent[0] / calls)
            out[1].append(spent[1] / calls)
    return out


def judge_pair(name: str, baseline: Calls, candidate: Calls, rounds: int,
               alpha: float = ALPHA, min_effect: float = MIN_EFFECT, confirm: bool = True,
               calls: int | None = None, again: Callable[[], tuple[Calls, Calls]] | None = None
               ) -> tuple[Verdict, list[float], list[float]]:
    """Interleaved rounds of both sides and the verdict on the candidate (baseline = A).

    With `confirm`, a regression is measured again at once and stands only when the second
    measurement finds it too. A slower stack stays slower; one side disturbed for a while does
    not (an unchanged stack against itself, in the full suite: x1.29 and x1.38 false alarms in
    two of three clean-clone runs; x0.92 measured again on new backends). The verdict and rounds
    returned are the last measurement's; a first one not confirmed is kept in the verdict's
    line. `again` gives the sides' calls for the second measurement (Pair.renew: other server
    backends, so that backends the scheduler happened to treat worse do not weigh on one side
    twice)."""
    a, b = interleaved_rounds(baseline, candidate, rounds, calls=calls)
    verdict = judge(name, a, b, alpha, min_effect)
    if not (confirm and verdict.regression):
        return verdict, a, b
    if again is not None:
        baseline, candidate = again()
    a, b = interleaved_rounds(baseline, candidate, rounds, calls=calls)
    second = judge(name, a, b, alpha, min_effect)
    if second.regression:
        return second, a, b
    return dataclasses.replace(second, unconfirmed=verdict.line()), a, b


class DatabaseMaker(Protocol):
    """What a target needs to hold both sides: databases built from a given stack."""

    def database_from(self, bootstrap: Path, migrations: list[Migration],
                      prefix: str) -> str: ...

    def admin_dsn(self, database: str | None = None) -> str: ...

    def drop_database(self, name: str) -> None: ...


CONNECTIONS_PER_SIDE = 3


@dataclasses.dataclass
class Pair:
    """The two databases of an A/B comparison, loaded with the same generated data, with
    CONNECTIONS_PER_SIDE connections (server backends) to each."""

    baselines: list[psycopg.Connection]
    candidates: list[psycopg.Connection]
    probes: Probes
    spec: ScaleSpec
    load_seconds: float
    dsns: tuple[str, str] = ("", "")  # the baseline's and the candidate's database

    def renew(self) -> None:
        """Both sides' connections replaced by new ones (new server backends), the old closed."""
        for side, dsn in ((self.baselines, self.dsns[0]), (self.candidates, self.dsns[1])):
            fresh: list[psycopg.Connection] = []
            try:
                for _ in side:
                    fresh.append(db_session.connect(dsn, autocommit=True))
            except BaseException:
                for conn in fresh:
                    conn.close()
                raise
            for conn in side:
                conn.close()
            side[:] = fresh

    @property
    def baseline(self) -> psycopg.Connection:
        return self.baselines[0]

    @property
    def candidate(self) -> psycopg.Connection:
        return self.candidates[0]

    def calls(self, make: Callable[[psycopg.Connection], Call]) -> tuple[list[Call],
                                                                         list[Call]]:
        """The same benchmark call made on each connection of each side (for
        interleaved_rounds to rotate through)."""
        return [make(c) for c in self.baselines], [make(c) for c in self.candidates]


@contextmanager
def loaded_pair(maker: DatabaseMaker, baseline: tuple[Path, Path], candidate: tuple[Path, Path],
                spec: ScaleSpec) -> Iterator[Pair]:
    """Databases for the baseline and the candidate stack, each given as (bootstrap folder,
    migrations folder), both loaded with `spec`'s data; dropped afterwards."""
    began = time.monotonic()
    made: list[str] = []
    conns: list[psycopg.Connection] = []
    pair: Pair | None = None
    try:
        for prefix, (bootstrap, migrations) in (("ab_base", baseline), ("ab_cand", candidate)):
            made.append(maker.database_from(bootstrap, discover(migrations), prefix))
        data = generate(spec)
        sides: list[list[psycopg.Connection]] = []
        for name in made:
            load(maker.admin_dsn(name), data)
            side = [db_session.connect(maker.admin_dsn(name), autocommit=True)
                    for _ in range(CONNECTIONS_PER_SIDE)]
            conns.extend(side)
            sides.append(side)
            # Both sides settled alike: hint bits set, visibility map and statistics made, so
            # that an autovacuum reaching one database first does not read as a slowdown.
            side[0].execute("VACUUM (FREEZE, ANALYZE)")
            side[0].execute("CHECKPOINT")
        pair = Pair(sides[0], sides[1], probes(data), spec, time.monotonic() - began,
                    (maker.admin_dsn(made[0]), maker.admin_dsn(made[1])))
        yield pair
    finally:
        for conn in conns + ([] if pair is None else pair.baselines + pair.candidates):
            conn.close()
        for name in made:
            maker.drop_database(name)

"""A/B timing on one server in one run: the stack at a baseline revision against the stack
under test, rounds interleaved, judged by soberharness.checker.regression.

Both databases live on the same PostgreSQL server and hold the same generated data. Each
round times a batch of calls on one side and then on the other, the order alternating
(A B, B A, A B, ...), so a busy neighbour, a frequency change or a noisy stretch of the run
weighs on both sides alike. Nothing is compared with figures from another machine or
another run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import psycopg

from soberharness.checker.regression import ALPHA, MIN_EFFECT, Verdict, judge
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


def interleaved_rounds(baseline: Call, candidate: Call, rounds: int,
                       warmup: int = WARMUP_ROUNDS,
                       calls: int | None = None) -> tuple[list[float], list[float]]:
    """Per-call seconds of `rounds` rounds on each side, the sides alternating first."""
    if calls is None:
        calls = calls_per_round(baseline, candidate)
    sides = (baseline, candidate)
    out: tuple[list[float], list[float]] = ([], [])
    for n in range(warmup + rounds):
        order = (0, 1) if n % 2 == 0 else (1, 0)
        for side in order:
            call = sides[side]
            began = time.perf_counter()
            for _ in range(calls):
                call()
            elapsed = (time.perf_counter() - began) / calls
            if n >= warmup:
                out[side].append(elapsed)
    return out


def judge_pair(name: str, baseline: Call, candidate: Call, rounds: int,
               alpha: float = ALPHA, min_effect: float = MIN_EFFECT) -> tuple[Verdict,
                                                                              list[float],
                                                                              list[float]]:
    """Interleaved rounds of both sides and the verdict on the candidate (baseline = A)."""
    a, b = interleaved_rounds(baseline, candidate, rounds)
    return judge(name, a, b, alpha, min_effect), a, b


class DatabaseMaker(Protocol):
    """What a target needs to hold both sides: databases built from a given stack."""

    def database_from(self, bootstrap: Path, migrations: list[Migration],
                      prefix: str) -> str: ...

    def admin_dsn(self, database: str | None = None) -> str: ...

    def drop_database(self, name: str) -> None: ...


@dataclasses.dataclass
class Pair:
    """The two databases of an A/B comparison, loaded with the same generated data."""

    baseline: psycopg.Connection
    candidate: psycopg.Connection
    probes: Probes
    spec: ScaleSpec
    load_seconds: float


@contextmanager
def loaded_pair(maker: DatabaseMaker, baseline: tuple[Path, Path], candidate: tuple[Path, Path],
                spec: ScaleSpec) -> Iterator[Pair]:
    """Databases for the baseline and the candidate stack, each given as (bootstrap folder,
    migrations folder), both loaded with `spec`'s data; dropped afterwards."""
    began = time.monotonic()
    made: list[str] = []
    conns: list[psycopg.Connection] = []
    try:
        for prefix, (bootstrap, migrations) in (("ab_base", baseline), ("ab_cand", candidate)):
            made.append(maker.database_from(bootstrap, discover(migrations), prefix))
        data = generate(spec)
        for name in made:
            load(maker.admin_dsn(name), data)
            conn = psycopg.connect(maker.admin_dsn(name), autocommit=True)
            conns.append(conn)
            # Both sides settled alike: hint bits set, visibility map and statistics made, so
            # that an autovacuum reaching one database first does not read as a slowdown.
            conn.execute("VACUUM (FREEZE, ANALYZE)")
            conn.execute("CHECKPOINT")
        yield Pair(conns[0], conns[1], probes(data), spec, time.monotonic() - began)
    finally:
        for conn in conns:
            conn.close()
        for name in made:
            maker.drop_database(name)

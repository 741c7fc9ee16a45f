"""The regression gates inside a pytest session, stashed on the config for the run report.

- The default gate (suites/performance/test_ab_gate.py): the stack under test against the
  stack at a baseline revision, both timed in this run on this server, rounds interleaved
  (soberharness.bench.ab). `record_ab` adds each query's verdict and both sides' rounds.
- The opt-in gate (`--baseline-file`): this session's pytest-benchmark rounds against a
  recorded baseline file. pytest-benchmark keeps what it measured on
  `config._benchmarksession.benchmarks` (every round included); `session_document` turns
  those into the JSON document `--benchmark-json` would write, so the gate judges exactly
  what `python -m soberharness.report.baseline compare` would.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from soberharness.checker.regression import Verdict
from soberharness.report.baseline import (
    REPO,
    SUITE,
    Comparison,
    compare_samples,
    load_samples,
    machine_class,
    samples_from_document,
)

AB_KIND = "same run"
FILE_KIND = "baseline file"


@dataclasses.dataclass
class GateResult:
    machine_class: str  # the machine class of a baseline file; "this machine" for A/B
    baseline: Path | str  # the baseline file, or the baseline revision's label
    comparison: Comparison
    kind: str = FILE_KIND
    # A/B only: per-call seconds of every round, per benchmark, of each side.
    baseline_rounds: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    current_rounds: dict[str, list[float]] = dataclasses.field(default_factory=dict)


GATE_KEY = pytest.StashKey[GateResult]()
AB_GATE_KEY = pytest.StashKey[GateResult]()


def record_ab(config: pytest.Config, baseline_label: str, verdict: Verdict,
              baseline_rounds: list[float], current_rounds: list[float]) -> GateResult:
    """Add one A/B verdict to this session's same-run gate (made on the first call)."""
    gate = config.stash.get(AB_GATE_KEY, None)
    if gate is None:
        gate = GateResult("this machine", baseline_label, Comparison([], []), kind=AB_KIND)
        config.stash[AB_GATE_KEY] = gate
    gate.comparison.verdicts.append(verdict)
    gate.baseline_rounds[verdict.name] = list(baseline_rounds)
    gate.current_rounds[verdict.name] = list(current_rounds)
    return gate


def session_gates(config: pytest.Config) -> list[GateResult]:
    """The gates that judged this session: the same-run gate first."""
    return [g for g in (config.stash.get(AB_GATE_KEY, None), config.stash.get(GATE_KEY, None))
            if g is not None]


def benchmark_session(config: pytest.Config) -> Any | None:
    """pytest-benchmark's session object, or None when the plugin is absent."""
    return getattr(config, "_benchmarksession", None)


def session_document(config: pytest.Config, under: str = SUITE) -> dict[str, Any]:
    """pytest-benchmark JSON (rounds included) of the benchmarks this session ran in `under`."""
    bench = benchmark_session(config)
    found = []
    for meta in getattr(bench, "benchmarks", None) or []:
        if meta and str(meta.fullname).startswith(under + "/"):
            found.append(meta.as_dict(include_data=True))
    return {"benchmarks": found}


def skip_reason(config: pytest.Config) -> str | None:
    """Why this session has no benchmarks to judge, or None."""
    bench = benchmark_session(config)
    if bench is None:
        return "pytest-benchmark is not loaded"
    if getattr(bench, "skip", False):
        return "benchmarks skipped (--benchmark-skip)"
    if getattr(bench, "disabled", False):
        return ("benchmarks disabled (--benchmark-disable, or pytest-xdist is active: run "
                f"{SUITE} without -n)")
    return None


def judge_session(config: pytest.Config) -> GateResult:
    """Compare this session's benchmarks with the baseline file named by --baseline-file.

    Raises FileNotFoundError (naming the path) when there is no such file."""
    path = Path(config.getoption("--baseline-file"))
    if not path.is_absolute() and not path.exists():
        path = REPO / path
    if not path.exists():
        raise FileNotFoundError(f"no baseline file at {path} (--baseline-file); record one "
                                "with `python -m soberharness.report.baseline record`")
    current = samples_from_document(session_document(config), "this session")
    result = GateResult(machine_class(), path, compare_samples(load_samples(path), current))
    config.stash[GATE_KEY] = result
    return result

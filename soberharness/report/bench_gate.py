"""The regression gate inside a pytest session: this session's benchmarks against the baseline.

pytest-benchmark keeps what it measured on `config._benchmarksession.benchmarks` (every
round included); `session_document` turns those into the same JSON document
`--benchmark-json` would write, so the gate and the run report judge exactly what
`python -m soberharness.report.baseline compare` would. The verdict is stashed on the config
for the run report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from soberharness.report.baseline import (
    REPO,
    SUITE,
    Comparison,
    baseline_path,
    compare_samples,
    load_samples,
    machine_class,
    samples_from_document,
)


@dataclasses.dataclass
class GateResult:
    machine_class: str
    baseline: Path
    comparison: Comparison


GATE_KEY = pytest.StashKey[GateResult]()


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
    """Compare this session's benchmarks with the baseline of this machine class.

    Raises FileNotFoundError (naming the class and path) when no baseline exists for it."""
    klass = machine_class()
    path = baseline_path(klass)
    if not path.exists():
        raise FileNotFoundError(
            f"no baseline for machine class '{klass}' ({path.relative_to(REPO)}); record one "
            "with `python -m soberharness.report.baseline record` "
            "(or set SOBERHARNESS_MACHINE_CLASS)")
    current = samples_from_document(session_document(config), "this session")
    result = GateResult(klass, path, compare_samples(load_samples(path), current))
    config.stash[GATE_KEY] = result
    return result

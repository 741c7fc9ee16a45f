"""The regression gate in the test command: this session's benchmarks against the committed
baseline reports/baselines/<machine class>/performance.json.

It runs after the last benchmark of the session (suites/performance/conftest.py moves it
there) and judges the rounds pytest-benchmark collected with the rule of
soberharness.checker.regression (Mann-Whitney U plus a >= 20 % bootstrap effect, each round
divided by its machine-reference round). No baseline for this machine class: skipped, naming
the class.
"""

from __future__ import annotations

import pytest

from soberharness.report import bench_gate


def test_benchmarks_hold_against_the_baseline(request: pytest.FixtureRequest) -> None:
    config = request.config
    reason = bench_gate.skip_reason(config)
    if reason:
        pytest.skip(reason)
    if not bench_gate.session_document(config)["benchmarks"]:
        pytest.skip("no benchmark of suites/performance ran in this session "
                    "(deselected, or skipped: see their reasons)")
    try:
        gate = bench_gate.judge_session(config)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    comparison = gate.comparison
    lines = [v.line() for v in sorted(comparison.verdicts, key=lambda v: not v.regression)]
    lines += [f"  not compared: {p}" for p in comparison.problems]
    print(f"baseline {gate.baseline.name} of machine class {gate.machine_class}:")
    print("\n".join(lines))
    if not comparison.verdicts:
        pytest.skip(f"nothing comparable with the {gate.machine_class} baseline: "
                    + "; ".join(comparison.problems))
    assert not comparison.regressions, (
        f"{len(comparison.regressions)} benchmark(s) slower than the {gate.machine_class} "
        "baseline:\n" + "\n".join(v.line() for v in comparison.regressions))

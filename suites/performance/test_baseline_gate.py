"""The opt-in comparison with a recorded baseline: this session's benchmarks against the
pytest-benchmark file named by `--baseline-file` (e.g. reports/baselines/2cpu/performance.json).

Figures recorded on another machine, or in another run, do not carry: a baseline recorded on
one VM read 14-32 % slower on another VM of the same class, even normalised by a reference
query. So this test runs only when asked for (suites/performance/conftest.py deselects it
otherwise); the default gate is test_ab_gate.py. When asked for, it runs after the last
benchmark of the session and judges the rounds pytest-benchmark collected with the rule of
soberharness.checker.regression (Mann-Whitney U plus a >= 20 % bootstrap effect, each round
divided by its machine-reference round).
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
        pytest.fail(str(exc), pytrace=False)  # asked for by name: a missing file is an error
    comparison = gate.comparison
    lines = [v.line() for v in sorted(comparison.verdicts, key=lambda v: not v.regression)]
    lines += [f"  not compared: {p}" for p in comparison.problems]
    print(f"baseline {gate.baseline} (recorded elsewhere; this machine: {gate.machine_class}):")
    print("\n".join(lines))
    if not comparison.verdicts:
        pytest.fail(f"nothing comparable with {gate.baseline}: "
                    + "; ".join(comparison.problems), pytrace=False)
    assert not comparison.regressions, (
        f"{len(comparison.regressions)} benchmark(s) slower than {gate.baseline}:\n"
        + "\n".join(v.line() for v in comparison.regressions))

"""Benchmark baselines per machine class, and the regression gate.

    python -m soberharness.report.baseline record [--class 2cpu] [-- PYTEST ARGS]
    python -m soberharness.report.baseline compare [--run RUN.json] [--class 2cpu]

`record` runs suites/performance with pytest-benchmark's JSON output, rounds included
(--benchmark-save-data), into reports/baselines/<class>/performance.json. `compare` runs the
suite the same way into reports/latest/benchmarks.json (or takes --run), judges every
benchmark against the baseline (soberharness.checker.regression) and writes
reports/latest/regression.json. Exit status: 0 no regression, 1 regression, 4 bad input (no
baseline, a failed suite run), 5 nothing compared.
The machine class is $SOBERHARNESS_MACHINE_CLASS, else "<cpu count>cpu".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from soberharness.checker.regression import ALPHA, MIN_EFFECT, Verdict, judge
from soberharness.errors import Exit, HarnessError, OneLineParser
from soberharness.paths import REPO

BASELINES = REPO / "reports" / "baselines"
LATEST = REPO / "reports" / "latest"
SUITE = "suites/performance"
BASELINE_FILE = "performance.json"
GATE_TEST = f"{SUITE}/test_baseline_gate.py::test_benchmarks_hold_against_the_baseline"


def machine_class() -> str:
    return os.environ.get("SOBERHARNESS_MACHINE_CLASS") or f"{os.cpu_count() or 1}cpu"


def baseline_path(klass: str | None = None) -> Path:
    return BASELINES / (klass or machine_class()) / BASELINE_FILE


def run_suite(json_path: Path, extra: list[str], timeout: float = 3600) -> None:
    """Run the performance suite, writing pytest-benchmark JSON with every round's timing."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "pytest", SUITE, "-q", "-p", "no:randomly",
            f"--benchmark-json={json_path}", "--benchmark-save-data",
            "--deselect", GATE_TEST, *extra]  # this command judges the run itself
    try:
        done = subprocess.run(argv, cwd=REPO, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"the performance suite ran longer than {timeout:.0f}s") from exc
    if done.returncode != 0:
        raise HarnessError(f"the performance suite failed (pytest exit {done.returncode})")


@dataclasses.dataclass(frozen=True)
class Samples:
    rounds: list[float]
    scale: str | None
    reference: list[float] | None = None  # machine reference timed before each round


def load_samples(path: Path) -> dict[str, Samples]:
    """Benchmark name -> its rounds (seconds), from a pytest-benchmark JSON file."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise HarnessError(f"no benchmark file at {path}") from exc
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path} is not JSON: {exc}") from exc
    return samples_from_document(document, str(path))


def samples_from_document(document: dict[str, Any], source: str) -> dict[str, Samples]:
    """Benchmark name -> its rounds, from a pytest-benchmark JSON document (`source` names it
    in errors)."""
    out: dict[str, Samples] = {}
    for bench in document.get("benchmarks", []):
        data = bench.get("stats", {}).get("data")
        if not data:
            raise HarnessError(
                f"{source}: benchmark {bench.get('name')} has no rounds (run with "
                "--benchmark-save-data)")
        extra = bench.get("extra_info", {})
        # Per call: pytest-benchmark's iterations, times the calls a round makes itself.
        iterations = (bench.get("stats", {}).get("iterations", 1) or 1) * int(
            extra.get("calls_per_round", 1) or 1)
        reference = extra.get("reference_rounds")
        out[bench["name"]] = Samples([float(v) / iterations for v in data], extra.get("scale"),
                                     [float(v) for v in reference] if reference else None)
    return out


@dataclasses.dataclass
class Comparison:
    verdicts: list[Verdict]
    problems: list[str]  # benchmarks that could not be compared, and why

    @property
    def regressions(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.regression]

    def to_json(self) -> dict[str, Any]:
        return {
            "regressions": [v.name for v in self.regressions],
            "problems": self.problems,
            "verdicts": [dataclasses.asdict(v) | {"status": v.status} for v in self.verdicts],
        }


def compare_samples(baseline: dict[str, Samples], current: dict[str, Samples],
                    alpha: float = ALPHA, min_effect: float = MIN_EFFECT) -> Comparison:
    verdicts: list[Verdict] = []
    problems: list[str] = []
    for name in sorted(set(baseline) | set(current)):
        if name not in current:
            problems.append(f"{name}: in the baseline, not in this run")
            continue
        if name not in baseline:
            problems.append(f"{name}: new benchmark, no baseline yet")
            continue
        base, cur = baseline[name], current[name]
        if base.scale != cur.scale:
            problems.append(f"{name}: data scale differs (baseline {base.scale}, run {cur.scale})")
            continue
        try:
            verdicts.append(judge(name, base.rounds, cur.rounds, alpha, min_effect,
                                  base.reference, cur.reference))
        except ValueError as exc:
            problems.append(str(exc))
    return Comparison(verdicts, problems)


def compare_files(baseline: Path, current: Path, alpha: float = ALPHA,
                  min_effect: float = MIN_EFFECT) -> Comparison:
    return compare_samples(load_samples(baseline), load_samples(current), alpha, min_effect)


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    p = OneLineParser(prog="python -m soberharness.report.baseline",
                                description="record or compare benchmark baselines")
    sub = p.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="run the performance suite into the baseline folder")
    rec.add_argument("--class", dest="klass", default=None, help="machine class (e.g. 2cpu)")
    cmp_ = sub.add_parser("compare", help="compare a run against the baseline")
    cmp_.add_argument("--class", dest="klass", default=None)
    cmp_.add_argument("--run", type=Path, default=None, help="pytest-benchmark JSON of a run "
                      "(default: run the suite now)")
    cmp_.add_argument("--baseline", type=Path, default=None, help="baseline JSON to use")
    cmp_.add_argument("--alpha", type=float, default=ALPHA)
    cmp_.add_argument("--min-effect", type=float, default=MIN_EFFECT)
    cmp_.add_argument("--out", type=Path, default=LATEST / "regression.json")
    return p.parse_args(argv), extra


def main(argv: list[str] | None = None) -> int:
    args, extra = _parse(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "record":
            path = baseline_path(args.klass)
            run_suite(path, extra)
            print(f"baseline recorded: {path.relative_to(REPO)}")
            return 0
        baseline = args.baseline or baseline_path(args.klass)
        if not baseline.exists():
            raise HarnessError(f"no baseline at {baseline}: run `record` first on this "
                               f"machine class ({args.klass or machine_class()})")
        run = args.run
        if run is None:
            run = LATEST / "benchmarks.json"
            run_suite(run, extra)
        result = compare_files(baseline, run, args.alpha, args.min_effect)
    except HarnessError as exc:
        print(f"baseline: {exc}", file=sys.stderr)
        return Exit.BAD_INPUT
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result.to_json(), indent=2))
    for verdict in sorted(result.verdicts, key=lambda v: not v.regression):
        print(verdict.line())
    for problem in result.problems:
        print(f"  skip  {problem}")
    print(f"{len(result.regressions)} regression(s) in {len(result.verdicts)} benchmarks "
          f"(rule: p < {args.alpha} and 95% CI of the median ratio above "
          f"+{args.min_effect:.0%}); {args.out}")
    if result.regressions:
        return Exit.FOUND
    return Exit.NOTHING_CHECKED if not result.verdicts else Exit.OK


if __name__ == "__main__":
    sys.exit(main())

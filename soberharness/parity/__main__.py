"""`python -m soberharness.parity RUN_DIR... [--out DIR] [--factor F]`.

Compares the run folders (reports/runs/<id>/, one per target), prints one line per behaviour
difference and per differing environment key, writes `parity.json` and `index.html` to
`--out` (default reports/parity/<UTC time>/, linked from reports/index.html), and exits
0 identical behaviour, 1 behaviour differs, 5 not comparable, 4 bad input (one line).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from soberharness.errors import Exit, OneLineParser
from soberharness.parity.compare import BEHAVIOUR, COVERAGE, DEFAULT_FACTOR, ParityReport, compare
from soberharness.parity.page import render_parity
from soberharness.parity.runs import NotComparable, load_runs
from soberharness.targets.migrations import REPO

PARITY_REPORTS = REPO / "reports" / "parity"
SHOWN = 40


def write_report(report: ParityReport, out: Path) -> list[Path]:
    """parity.json and index.html in `out`; refresh the run index when `out` sits in a
    reports/parity/ folder beside reports/runs/."""
    from soberharness.report.run_folder import write_index

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "parity.json", out / "index.html"]
    paths[0].write_text(json.dumps(report.to_json(), indent=2))
    paths[1].write_text(render_parity(report))
    runs_root = out.parent.parent / "runs"
    if out.parent.name == "parity":
        runs_root.mkdir(parents=True, exist_ok=True)
        paths.append(write_index(runs_root))
    return paths


def summary_lines(report: ParityReport) -> list[str]:
    behaviour = report.with_verdict(BEHAVIOUR)
    lines = [
        f"parity over {len(report.labels)} runs ({', '.join(report.labels)}): "
        f"{len(report.checks)} checks, {len(behaviour)} behaviour differences, "
        f"{len(report.with_verdict(COVERAGE))} coverage differences, "
        f"{len(report.performance)} performance differences: {report.verdict}"
    ]
    lines += [f"NOT COMPARABLE {problem}" for problem in report.not_comparable]
    for check in behaviour[:SHOWN]:
        outcomes = ", ".join(f"{k}={v}" for k, v in check.outcomes.items())
        lines.append(f"DIFF {check.kind}: {check.name}: {outcomes}")
    if len(behaviour) > SHOWN:
        lines.append(f"... and {len(behaviour) - SHOWN} more (see the report)")
    for row in [e for e in report.environment if e.differs][:SHOWN]:
        values = ", ".join(f"{k}={v}" for k, v in row.values.items())
        lines.append(f"ENV {row.key}: {values}")
    for lat in report.performance[:SHOWN]:
        lines.append(f"PERF {lat.source} {lat.name}: " + ", ".join(
            f"{k} {v}" for k, v in lat.outliers.items()) + f" (fleet p50 {lat.fleet_p50} ms)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m soberharness.parity",
                                     description="Compare run folders of several targets.")
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write parity.json and index.html "
                             "(default reports/parity/<UTC time>/)")
    parser.add_argument("--factor", type=float, default=DEFAULT_FACTOR,
                        help=f"latency factor against the fleet median (default {DEFAULT_FACTOR})")
    args = parser.parse_args(argv)
    if args.factor <= 1:
        print("soberharness.parity: --factor must be above 1", file=sys.stderr)
        return Exit.BAD_INPUT
    try:
        runs = load_runs(args.runs)
    except NotComparable as exc:
        print(f"soberharness.parity: {exc}", file=sys.stderr)
        return Exit.BAD_INPUT
    report = compare(runs, factor=args.factor)
    out = args.out or PARITY_REPORTS / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for line in summary_lines(report):
        print(line)
    try:
        paths = write_report(report, out)
    except OSError as exc:
        print(f"soberharness.parity: cannot write the report to {out}: {exc.strerror}",
              file=sys.stderr)
        return Exit.BAD_INPUT
    print("parity report: " + ", ".join(str(p) for p in paths))
    return report.exit_code


if __name__ == "__main__":
    raise SystemExit(main())

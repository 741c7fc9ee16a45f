"""Benchmark plots for the run page, as self-contained <img> tags (PNG, base64, matplotlib Agg).

Times are per call, in milliseconds; axes are logarithmic since the queries span
sub-millisecond reads to a quarter-second count.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

BASE_COLOUR = "#9aa5b1"
CURRENT_COLOUR = "#2f7ed8"
SLOW_COLOUR = "#d64545"


def _img(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="plot" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _readable_log_axis(axis: Any) -> None:
    """Log-scale ticks at 1-2-5 steps, labelled as plain milliseconds (0.2, 5, 40, 200)."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _height(rows: int) -> float:
    return 1.2 + 0.45 * max(rows, 1)


def distributions(rounds_ms: Mapping[str, Sequence[float]], slow: Sequence[str] = ()) -> str:
    """Spread of each benchmark's rounds this run: every round divided by the query's median
    (a linear axis, so the shape shows whatever the query's absolute speed), box plus dots;
    the median in ms is in the label."""
    names = sorted(rounds_ms, key=lambda n: _median(rounds_ms[n]))
    fig, ax = plt.subplots(figsize=(9, _height(len(names))))
    data = [[v / max(_median(rounds_ms[n]), 1e-12) for v in rounds_ms[n]] for n in names]
    boxes = ax.boxplot(data, orientation="horizontal", widths=0.55, patch_artist=True,
                       showfliers=False, medianprops={"color": "black"})
    for name, patch in zip(names, boxes["boxes"], strict=True):
        patch.set_facecolor(SLOW_COLOUR if name in slow else CURRENT_COLOUR)
        patch.set_alpha(0.45)
    for row, values in enumerate(data, start=1):
        ax.scatter(values, [row] * len(values), s=8, color="#333", alpha=0.45, zorder=3)
    ax.set_yticks(range(1, len(names) + 1),
                  [f"{n}  ({_median(rounds_ms[n]):.3g} ms)" for n in names])
    ax.axvline(1.0, color="#888", linewidth=0.8)
    ax.set_xlabel("round / median of the query (per-call time), every round")
    ax.set_title("Latency distribution per query (this run; median in ms in the label)")
    ax.grid(axis="x", alpha=0.25)
    return _img(fig, "latency distribution per query")


def baseline_vs_current(baseline_ms: Mapping[str, Sequence[float]],
                        current_ms: Mapping[str, Sequence[float]],
                        slow: Sequence[str] = ()) -> str:
    """Per benchmark, the baseline's rounds (lower box) and this run's (upper box)."""
    names = sorted(set(baseline_ms) & set(current_ms), key=lambda n: _median(current_ms[n]))
    fig, ax = plt.subplots(figsize=(9, _height(len(names)) * 1.5))
    for row, name in enumerate(names):
        for offset, values, colour in ((-0.2, baseline_ms[name], BASE_COLOUR),
                                       (0.2, current_ms[name],
                                        SLOW_COLOUR if name in slow else CURRENT_COLOUR)):
            parts = ax.boxplot([list(values)], positions=[row + offset],
                               orientation="horizontal", widths=0.32, patch_artist=True,
                               showfliers=False, medianprops={"color": "black"})
            parts["boxes"][0].set_facecolor(colour)
            ax.scatter([_median(values)], [row + offset], marker="D", s=34, color=colour,
                       edgecolors="black", linewidths=0.6, zorder=4)
    ax.set_yticks(range(len(names)), names)
    ax.set_xscale("log")
    _readable_log_axis(ax.xaxis)
    ax.set_xlabel("latency per call (ms, log scale)")
    ax.set_title("Baseline vs this run, per query (diamond = median)")
    ax.grid(axis="x", which="both", alpha=0.25)
    legend = [Patch(facecolor=CURRENT_COLOUR, label="this run"),
              Patch(facecolor=BASE_COLOUR, label="baseline")]
    if slow:
        legend.insert(1, Patch(facecolor=SLOW_COLOUR, label="this run, regression"))
    ax.legend(handles=legend, fontsize=8, loc="lower right")
    return _img(fig, "baseline vs current per query")


def history(runs: Sequence[tuple[str, Mapping[str, float]]]) -> str:
    """Median per-call latency of every benchmark over the runs (oldest left)."""
    labels = [label for label, _ in runs]
    names = sorted({name for _, medians in runs for name in medians})
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for name in names:
        points = [(i, medians[name]) for i, (_, medians) in enumerate(runs) if name in medians]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=8)
    ax.set_yscale("log")
    _readable_log_axis(ax.yaxis)
    ax.set_ylabel("median per call (ms, log)")
    ax.set_title(f"History across the last {len(runs)} runs")
    ax.grid(which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _img(fig, "benchmark history across runs")


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


VERDICT_COLOURS = {"passed": "#2e8b57", "failed": "#c62828", "skipped": "#b8860b",
                   "interrupted": "#6a1b9a", "error": "#4e342e"}


def trend(points: Sequence[Mapping[str, Any]]) -> str:
    """Verdicts, matrix mismatches and time per suite over the runs (oldest left), as the index
    shows them: `points` from report.run_index.trend_points."""
    labels = [str(p["label"]) for p in points]
    xs = list(range(len(points)))
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(10, 6.4), sharex=True,
                                              gridspec_kw={"height_ratios": [1, 1.6, 2.4]})
    top.bar(xs, [1] * len(xs), color=[VERDICT_COLOURS.get(p["verdict"], BASE_COLOUR)
                                      for p in points])
    top.set_yticks([])
    top.set_ylabel("verdict")
    top.legend(handles=[Patch(color=c, label=v) for v, c in VERDICT_COLOURS.items()
                        if any(p["verdict"] == v for p in points)],
               fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    checked = [(x, p["mismatches"]) for x, p in zip(xs, points, strict=True)
               if p["mismatches"] is not None]
    middle.plot([c[0] for c in checked], [c[1] for c in checked], marker="o", color=SLOW_COLOUR)
    middle.set_ylabel("mismatches")
    middle.set_ylim(0, max([1, *(c[1] for c in checked)]) * 1.1)
    middle.yaxis.set_major_locator(MaxNLocator(integer=True))
    suites = sorted({s for p in points for s in p["suite_seconds"]})
    below = [0.0] * len(xs)
    colours = plt.get_cmap("tab20")
    for i, suite in enumerate(suites):
        heights = [float(p["suite_seconds"].get(suite, 0.0)) for p in points]
        bottom.bar(xs, heights, bottom=below, label=suite, color=colours(i % 20))
        below = [b + h for b, h in zip(below, heights, strict=True)]
    bottom.set_ylabel("suite time (s)")
    bottom.set_xticks(xs, labels, rotation=35, ha="right", fontsize=8)
    if suites:
        bottom.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    for ax in (middle, bottom):
        ax.grid(alpha=0.25)
    top.set_title(f"Trend over the last {len(points)} runs")
    return _img(fig, "trend: verdicts, mismatches and suite time over runs")

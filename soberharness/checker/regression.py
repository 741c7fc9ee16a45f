"""Is a benchmark slower than its baseline? A rank test over the rounds plus a minimum effect.

Shared machines are noisy: one slow round, or a run that is a few percent slower overall,
must not fail a build. A benchmark is a regression only when both hold:
- the current rounds are stochastically larger than the baseline's: one-sided Mann-Whitney U
  (normal approximation with tie and continuity corrections) gives p < alpha (default 0.01);
- the median grew by at least min_effect (default 20%): median ratio >= 1 + min_effect.
A bootstrap confidence interval of the median ratio is reported beside (it does not decide).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

ALPHA = 0.01
MIN_EFFECT = 0.20
MIN_ROUNDS = 5


def _ranks(values: np.ndarray) -> tuple[np.ndarray, float]:
    """Mid-ranks (1-based) of values, and the tie term sum(t^3 - t) over tie groups."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=float)
    tie_term = 0.0
    i = 0
    n = len(values)
    while i < n:
        j = i
        while j + 1 < n and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        t = j - i + 1
        tie_term += t**3 - t
        i = j + 1
    return ranks, tie_term


def mann_whitney_greater(current: Sequence[float], baseline: Sequence[float]) -> float:
    """One-sided p-value for "current tends to be larger than baseline"."""
    x = np.asarray(current, dtype=float)
    y = np.asarray(baseline, dtype=float)
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("mann_whitney_greater needs two non-empty samples")
    ranks, tie_term = _ranks(np.concatenate([x, y]))
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2.0  # U of `current`: pairs where current is larger
    n = n1 + n2
    mean = n1 * n2 / 2.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)))
    if var <= 0:
        return 1.0 if u <= mean else 0.0
    z = (u - mean - 0.5) / math.sqrt(var)  # continuity correction toward the null
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def bootstrap_median_ratio(current: Sequence[float], baseline: Sequence[float],
                           resamples: int = 2000, level: float = 0.95,
                           seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of median(current) / median(baseline)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(current, dtype=float)
    y = np.asarray(baseline, dtype=float)
    mx = np.median(x[rng.integers(0, len(x), size=(resamples, len(x)))], axis=1)
    my = np.median(y[rng.integers(0, len(y), size=(resamples, len(y)))], axis=1)
    ratios = mx / np.maximum(my, 1e-12)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(ratios, [tail, 1.0 - tail])
    return float(low), float(high)


@dataclasses.dataclass(frozen=True)
class Verdict:
    name: str
    baseline_median: float  # seconds
    current_median: float
    ratio: float  # current / baseline median
    p_slower: float  # one-sided Mann-Whitney p-value
    p_faster: float
    ci: tuple[float, float]  # bootstrap interval of the ratio
    rounds: tuple[int, int]  # (baseline, current)
    regression: bool
    improvement: bool

    @property
    def status(self) -> str:
        if self.regression:
            return "SLOWER"
        return "faster" if self.improvement else "same"

    def line(self) -> str:
        return (f"{self.status:>6}  {self.name}: median {self.baseline_median * 1e3:.3f} -> "
                f"{self.current_median * 1e3:.3f} ms (x{self.ratio:.2f}, 95% CI "
                f"{self.ci[0]:.2f}-{self.ci[1]:.2f}), p(slower)={self.p_slower:.2g}, "
                f"rounds {self.rounds[0]}/{self.rounds[1]}")


def judge(name: str, baseline: Sequence[float], current: Sequence[float],
          alpha: float = ALPHA, min_effect: float = MIN_EFFECT) -> Verdict:
    """Compare the rounds of one benchmark against its baseline rounds."""
    if len(baseline) < MIN_ROUNDS or len(current) < MIN_ROUNDS:
        raise ValueError(f"{name}: need at least {MIN_ROUNDS} rounds on each side, got "
                         f"{len(baseline)} and {len(current)}")
    base_median = float(np.median(baseline))
    cur_median = float(np.median(current))
    ratio = cur_median / max(base_median, 1e-12)
    p_slower = mann_whitney_greater(current, baseline)
    p_faster = mann_whitney_greater(baseline, current)
    return Verdict(
        name=name,
        baseline_median=base_median,
        current_median=cur_median,
        ratio=ratio,
        p_slower=p_slower,
        p_faster=p_faster,
        ci=bootstrap_median_ratio(current, baseline),
        rounds=(len(baseline), len(current)),
        regression=p_slower < alpha and ratio >= 1.0 + min_effect,
        improvement=p_faster < alpha and ratio <= 1.0 / (1.0 + min_effect),
    )

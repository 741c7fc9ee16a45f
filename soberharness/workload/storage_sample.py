"""A deterministic sample of the storage matrix over HTTP, for runs that cannot afford every
cell (the harness's own CI runs the suite through a target file on a protocol double; the
in-process selftests already run every cell there).

`SOBERHARNESS_STORAGE_SAMPLE=<n>` (or `--storage-sample n`) asks for n cells per bucket. The
sample first covers, in the matrix's own order, every form (operation and case), every actor x
operation x owner privacy, and every token variant; then it adds cells spread evenly over the
rest up to n. A cover larger than n is run whole, so a small n never drops a form or an actor.
Unset (the nightly default): every cell. The same n always gives the same cells.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from soberharness.errors import HarnessError

if TYPE_CHECKING:  # the plugin reads the option at start: keep this import light
    from soberharness.workload.storage_forms import StorageCell

SAMPLE_ENV = "SOBERHARNESS_STORAGE_SAMPLE"


def parse_sample(text: str | None) -> int | None:
    """The sample size given as text: None for '' (every cell), else a whole number >= 1."""
    value = (text or "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise HarnessError(f"{SAMPLE_ENV} / --storage-sample: {value!r} is not a number of "
                           "cells >= 1 (leave it unset for the whole storage matrix)")
    return int(value)


def _keys(sc: StorageCell) -> set[tuple[str, ...]]:
    """What a cell stands for in the cover."""
    c = sc.cell
    return {("form", str(c.op), c.case), ("actor", c.actor, str(c.op), c.privacy),
            ("token", c.token)}


def _cover(cells: Sequence[StorageCell]) -> list[int]:
    """Greedy: repeatedly the first cell standing for the most keys not covered yet."""
    keys = [_keys(sc) for sc in cells]
    left = set().union(*keys) if keys else set()
    chosen: list[int] = []
    while left:
        best = max(range(len(cells)), key=lambda i: (len(keys[i] & left), -i))
        chosen.append(best)
        left -= keys[best]
    return chosen


def _spread(indexes: Sequence[int], count: int) -> list[int]:
    """`count` of `indexes`, evenly spaced from the first."""
    if count <= 0 or not indexes:
        return []
    step = len(indexes) / min(count, len(indexes))
    return [indexes[int(k * step)] for k in range(min(count, len(indexes)))]


@dataclasses.dataclass(frozen=True)
class CellSample:
    """The cells to run and what they were taken from."""

    cells: list[StorageCell]
    total: int
    asked: int | None

    def note(self) -> str:
        if len(self.cells) == self.total:
            return f"every cell ({self.total})"
        return (f"a sample of {len(self.cells)} of {self.total} cells ({SAMPLE_ENV}="
                f"{self.asked}): every form, actor x operation x owner privacy and token "
                "variant, then evenly spread")


def sample_cells(cells: Sequence[StorageCell], n: int | None) -> CellSample:
    """`cells` (one bucket's), or n of them as the module docstring says, in their order."""
    if n is None or n >= len(cells):
        return CellSample(list(cells), len(cells), n)
    chosen = set(_cover(cells))
    rest = [i for i in range(len(cells)) if i not in chosen]
    chosen.update(_spread(rest, n - len(chosen)))
    return CellSample([cells[i] for i in sorted(chosen)], len(cells), n)

"""Line coverage of the harness's own code, judged: per package, and the modules below the bar.

Pure: it takes per-module figures (from coverage.py, see soberharness/coverage_plugin.py) and
the declared list of modules allowed below the bar (docs/coverage.md, one table row per module
with its reason), and says what to print and what fails. A module below the bar that the list
does not name fails the run; a listed module that reached the bar, or no longer exists, is
only noted (a figure near the bar may move a little between runs).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

BAR_PERCENT = 70.0
_ROW = re.compile(r"^\|\s*`(soberharness/[^`]+\.py)`\s*\|\s*(.*?)\s*\|\s*$")


@dataclasses.dataclass(frozen=True)
class ModuleCoverage:
    """One module's executable lines and how many of them no test ran."""

    path: str  # relative to the repository, e.g. soberharness/targets/remote.py
    statements: int
    missing: int

    @property
    def percent(self) -> float:
        return 100.0 if self.statements == 0 else 100.0 * (self.statements - self.missing) / (
            self.statements)


@dataclasses.dataclass(frozen=True)
class PackageRow:
    package: str
    modules: int
    statements: int
    missing: int

    @property
    def percent(self) -> float:
        return 100.0 if self.statements == 0 else 100.0 * (self.statements - self.missing) / (
            self.statements)


@dataclasses.dataclass(frozen=True)
class Verdict:
    undeclared: list[ModuleCoverage]  # below the bar, not in the list: fails
    stale: list[str]  # listed, yet at or above the bar or gone: noted


def package_of(path: str) -> str:
    """soberharness/targets/services/x.py -> soberharness/targets/services."""
    return path.rpartition("/")[0] or path


def package_rows(modules: Iterable[ModuleCoverage]) -> list[PackageRow]:
    by_package: dict[str, list[ModuleCoverage]] = {}
    for module in modules:
        by_package.setdefault(package_of(module.path), []).append(module)
    return [PackageRow(name, len(mods), sum(m.statements for m in mods),
                       sum(m.missing for m in mods))
            for name, mods in sorted(by_package.items())]


def table_lines(modules: Iterable[ModuleCoverage]) -> list[str]:
    """The per-package table, then the total."""
    modules = list(modules)
    rows = package_rows(modules)
    width = max([len(r.package) for r in rows] + [len("total")])
    lines = [f"{'package':<{width}}  modules  lines  missed  cover"]
    lines += [f"{r.package:<{width}}  {r.modules:>7}  {r.statements:>5}  {r.missing:>6}  "
              f"{r.percent:>4.0f}%" for r in rows]
    total = PackageRow("total", len(modules), sum(m.statements for m in modules),
                       sum(m.missing for m in modules))
    lines.append(f"{'total':<{width}}  {total.modules:>7}  {total.statements:>5}  "
                 f"{total.missing:>6}  {total.percent:>4.0f}%")
    return lines


def read_declared(path: Path) -> dict[str, str]:
    """module path -> reason, from the table rows of the declaration file."""
    declared: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line.strip())
        if match:
            declared[match[1]] = match[2]
    return declared


def judge(modules: Iterable[ModuleCoverage], declared: Mapping[str, str],
          bar: float = BAR_PERCENT) -> Verdict:
    modules = list(modules)
    by_path = {m.path: m for m in modules}
    undeclared = [m for m in modules if m.percent < bar and not declared.get(m.path)]
    stale = [f"{path}: {by_path[path].percent:.0f}%, at or above {bar:.0f}%: remove its line"
             if path in by_path else f"{path}: no such module was measured: remove its line"
             for path in sorted(declared)
             if path not in by_path or by_path[path].percent >= bar]
    return Verdict(sorted(undeclared, key=lambda m: m.path), stale)

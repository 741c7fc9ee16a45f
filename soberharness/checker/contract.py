"""Judging a contract run: which findings a declared upstream failure accounts for.

Pure: findings and declarations in, findings with `declared` filled in out. A declaration
matches a finding of its service, operation and status whose request has one of the
declaration's parameters in the declared condition (or whose answer carries the declared
text); anything else stays failing. Also what the run's writes did to the shared world
(`world_changes`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from soberharness.records.contract import ContractFinding, UpstreamFailure

HUGE = 2**31 - 1  # past a PostgreSQL integer; where services' arithmetic starts to overflow


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _numeric(test: Callable[[float], bool]) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        n = _number(value)
        return n is not None and test(n)
    return check


CONDITIONS: dict[str, Callable[[Any], bool]] = {
    "zero": _numeric(lambda n: n == 0),
    "negative": _numeric(lambda n: n < 0),
    "huge": _numeric(lambda n: abs(n) > HUGE),
    "contains_nul": _has_nul,
}


def _operation_matches(declared: str, operation: str) -> bool:
    if declared.endswith("*"):  # "GET /render/image/*": every operation under it
        return operation.startswith(declared[:-1])
    return declared == operation


def matches(entry: UpstreamFailure, finding: ContractFinding) -> bool:
    if (entry.service, entry.status) != (finding.service, finding.status):
        return False
    if not any(_operation_matches(o, finding.operation) for o in entry.operations):
        return False
    if entry.answer_contains is not None:
        return entry.answer_contains in finding.answer
    if entry.condition is None:
        return True
    test = CONDITIONS[entry.condition]
    for where in entry.params:
        present, value = finding.request.value(where)
        if present and test(value):
            return True
    return False


def judge(findings: Iterable[ContractFinding],
          declared: Sequence[UpstreamFailure]) -> list[ContractFinding]:
    """The findings, each with the reason of the first declaration matching it."""
    out = []
    for f in findings:
        entry = next((e for e in declared if matches(e, f)), None)
        out.append(dataclasses.replace(f, declared=entry.reason) if entry else f)
    return out


def failing(findings: Iterable[ContractFinding]) -> list[ContractFinding]:
    return [f for f in findings if f.declared is None]


def distinct(findings: Iterable[ContractFinding]) -> list[ContractFinding]:
    """One finding per (operation, status, kind, declared): the first request that drew it."""
    seen: dict[tuple[str, str, int, str, str | None], ContractFinding] = {}
    for f in findings:
        seen.setdefault((f.service, f.operation, f.status, f.kind, f.declared), f)
    return list(seen.values())


def world_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """What the contract run's writes did to the shared world (id -> state, listed before and
    after): the ids gone, new and changed; empty when nothing changed."""
    gone = sorted(before.keys() - after.keys())
    new = sorted(after.keys() - before.keys())
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    return [f"{what} {ids}" for what, ids in (("gone", gone), ("new", new),
                                              ("changed", changed)) if ids]

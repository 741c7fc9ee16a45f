"""The `[[upstream_failure]]` section of the stack's declaration file (stack/declarations.toml):
failures of the services' own code that the API contract suite reports as declared.

    [[upstream_failure]]
    service = "auth"                     # a target service name (auth, storage, rest, ...)
    operation = "GET /admin/audit"       # METHOD and path as its description has it (or a
                                         # list); a trailing * takes every path under it
    status = 500
    params = ["query.per_page"]          # query.x, path.x, body or body.x
    is = "zero"                          # zero | negative | huge | contains_nul
    reason = "..."

Instead of `params`/`is`, `answer_contains = "text"` matches on the answer's text."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from soberharness.errors import HarnessError
from soberharness.records.contract import UpstreamFailure

SECTION = "upstream_failure"
CONDITIONS = ("zero", "negative", "huge", "contains_nul")
_REQUIRED = {"service", "operation", "status", "reason"}
_OPTIONAL = {"params", "is", "answer_contains"}


def _entry(item: Any, where: str) -> UpstreamFailure:
    if not isinstance(item, dict) or not _REQUIRED <= set(item) <= _REQUIRED | _OPTIONAL:
        got = sorted(item) if isinstance(item, dict) else type(item).__name__
        raise HarnessError(f"{where}: needs the keys {sorted(_REQUIRED)} (optional "
                           f"{sorted(_OPTIONAL)}), got {got}")
    if not all(isinstance(item[k], str) and item[k].strip() for k in ("service", "reason")):
        raise HarnessError(f"{where}: service and reason must be non-empty text")
    ops = item["operation"]
    operations = [ops] if isinstance(ops, str) else ops
    if not isinstance(operations, list) or not operations or not all(
            isinstance(o, str) and len(o.split(" ", 1)) == 2 for o in operations):
        raise HarnessError(f"{where}: operation must be 'METHOD /path' or a list of them")
    if not isinstance(item["status"], int) or not 100 <= item["status"] <= 599:
        raise HarnessError(f"{where}: status must be an HTTP status number")
    params = item.get("params", [])
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise HarnessError(f"{where}: params must be a list of 'query.x', 'path.x', 'body.x'")
    condition = item.get("is")
    if condition is not None and condition not in CONDITIONS:
        raise HarnessError(f"{where}: is = {condition!r}; expected one of {list(CONDITIONS)}")
    if (condition is None) != (not params):
        raise HarnessError(f"{where}: params and is go together")
    answer = item.get("answer_contains")
    if answer is not None and (condition is not None or not isinstance(answer, str)):
        raise HarnessError(f"{where}: answer_contains is text, instead of params/is")
    return UpstreamFailure(item["service"], tuple(operations), item["status"],
                           item["reason"].strip(), where, tuple(params), condition, answer)


def load_upstream_failures(path: Path) -> tuple[UpstreamFailure, ...]:
    """The file's declared upstream failures; a missing file declares none."""
    if not path.exists():
        return ()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HarnessError(f"{path}: not a readable TOML file: {exc}") from None
    items = data.get(SECTION, [])
    if not isinstance(items, list):
        raise HarnessError(f"{path}: [[{SECTION}]] must be an array of tables")
    return tuple(_entry(item, f"{path}: [[{SECTION}]] #{i}") for i, item in enumerate(items, 1))

"""The few calls of Prometheus's HTTP API the monitoring checks make (timeouts on each)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from soberharness.errors import HarnessError

TIMEOUT = 5.0


def _get(base: str, path: str, params: dict[str, str] | None = None) -> Any:
    try:
        response = httpx.get(base + path, params=params, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise HarnessError(f"Prometheus at {base} unreachable: {exc}") from None
    body = response.json()
    if body.get("status") != "success":
        raise HarnessError(f"Prometheus {path}: {body.get('error', response.status_code)}")
    return body["data"]


def active_targets(base: str) -> list[dict[str, Any]]:
    return list(_get(base, "/api/v1/targets", {"state": "active"})["activeTargets"])


def exported_names(base: str) -> set[str]:
    """Metric names that have a series now (scraped in the last few minutes)."""
    return set(_get(base, "/api/v1/label/__name__/values"))


def wait_scraped(base: str, timeout: float = 20.0, rounds: int = 2) -> list[dict[str, Any]]:
    """The active targets once each was scraped (health known) for `rounds` rounds."""
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    settled = 0
    while time.monotonic() < deadline:
        seen = active_targets(base)
        if seen and all(t.get("health") in ("up", "down") for t in seen):
            settled += 1
            if settled >= rounds:
                return seen
        time.sleep(1.0)
    return seen


def instant(base: str, query: str) -> list[tuple[dict[str, str], float]]:
    """An instant query's vector: (labels, value) per series."""
    data = _get(base, "/api/v1/query", {"query": query})
    return [(dict(r["metric"]), float(r["value"][1])) for r in data.get("result") or []]


def series(base: str, query: str) -> list[tuple[dict[str, str], float]]:
    """An instant query's series; a scalar or string result has none (it reads no metric)."""
    data = _get(base, "/api/v1/query", {"query": query})
    if data.get("resultType") not in ("vector", "matrix"):
        return []
    return [(dict(r["metric"]), float((r.get("value") or r["values"][-1])[1]))
            for r in data.get("result") or []]


def label_values(base: str, selector: str | None, label: str) -> list[str]:
    """Values of `label` (on the series `selector` picks, when given) that have series now."""
    params = {"match[]": selector} if selector else None
    return [str(v) for v in _get(base, f"/api/v1/label/{label}/values", params)]

"""A record of the routes the service clients called: status codes and response shapes.

Clients pass `hook` as an httpx response event hook; every response adds its status code and
the shape of its JSON body (keys and JSON types, never values) under `METHOD /path`, where
ids in the path (UUIDs, numbers, long tokens) become `{id}`. The run report writes
`snapshot()` into summary.json (`routes`) and the parity report compares it across targets:
the same route answering another status or another shape on one target is a behaviour
difference.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import httpx

_lock = threading.Lock()
_routes: dict[str, dict[str, Any]] = {}
_ID = re.compile(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+|[A-Za-z0-9_-]{24,})$",
    re.I,
)
MAX_DEPTH = 4  # deeper objects are written "object..."


def route_key(method: str, path: str) -> str:
    parts = ["{id}" if _ID.match(part) else part for part in path.split("/")]
    return f"{method.upper()} {'/'.join(parts) or '/'}"


def shape(value: Any, depth: int = 0) -> Any:
    """The JSON type tree of `value`: objects keep their keys, arrays the union of elements."""
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return "object..."
        return {str(k): shape(v, depth + 1) for k, v in sorted(value.items())}
    if isinstance(value, list):
        if depth >= MAX_DEPTH or not value:
            return ["array"] if value else []
        merged: dict[str, Any] = {}
        kinds = set()
        for item in value[:20]:
            s = shape(item, depth + 1)
            if isinstance(s, dict):
                merged.update(s)
                kinds.add("object")
            else:
                kinds.add(str(s))
        return [merged] if kinds == {"object"} else [" | ".join(sorted(kinds))]
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return "string"


def record(method: str, path: str, status: int, body_shape: Any) -> None:
    key = route_key(method, path)
    with _lock:
        entry = _routes.setdefault(key, {"statuses": [], "shapes": {}})
        if status not in entry["statuses"]:
            entry["statuses"] = sorted([*entry["statuses"], status])
        if body_shape is not None:
            entry["shapes"].setdefault(str(status), body_shape)


def hook(response: httpx.Response) -> None:
    """httpx response event hook: record the route, its status and its body's shape."""
    body_shape = None
    if "json" in response.headers.get("content-type", ""):
        try:
            response.read()
            body_shape = shape(response.json())
        except (ValueError, httpx.HTTPError):
            body_shape = None
    record(response.request.method, response.request.url.path, response.status_code, body_shape)


def snapshot() -> dict[str, dict[str, Any]]:
    with _lock:
        return {k: {"statuses": list(v["statuses"]), "shapes": dict(v["shapes"])}
                for k, v in sorted(_routes.items())}


def clear() -> None:
    with _lock:
        _routes.clear()

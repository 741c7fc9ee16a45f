"""The Storage API protocol double's own OpenAPI description (GET /documentation/json, as the
Storage API serves its own), of the read routes the contract suite runs: the bucket listing
with its `limit`/`offset` window and one bucket by id. Also the listing's window, with the two
planted server errors the contract suite's selftest looks for (`CONTRACT_PLANTED`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# As Storage API v1.70.6 does (declared in stack/declarations.toml): a limit past a PostgreSQL
# integer answers 500.
HUGE_LIMIT_500 = "bucket-list-500-on-huge-limit"
# Not upstream: a negative offset answers 500 (the description says minimum 0: a 400 is due).
NEGATIVE_OFFSET_500 = "bucket-list-500-on-negative-offset"
CONTRACT_PLANTED = frozenset({HUGE_LIMIT_500, NEGATIVE_OFFSET_500})
PG_INTEGER_MAX = 2**31 - 1

_ERROR = {"type": "object", "required": ["statusCode", "error", "message"],
          "properties": {"statusCode": {"type": "string"}, "error": {"type": "string"},
                         "message": {"type": "string"}}}
_BUCKET = {"type": "object", "required": ["id", "name", "public"],
           "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                          "public": {"type": "boolean"},
                          "file_size_limit": {"type": ["integer", "null"]},
                          "allowed_mime_types": {"type": ["array", "null"],
                                                 "items": {"type": "string"}}}}


def _answers(ok: dict[str, Any]) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": _ERROR}}, "description": "error"}
    return {"200": {"description": "ok", "content": {"application/json": {"schema": ok}}},
            "4XX": error}


def openapi_description() -> dict[str, Any]:
    window = [
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1}},
        {"name": "offset", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 0}},
    ]
    bucket_id = {"name": "bucketId", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Storage API protocol double", "version": "0"},
        "paths": {
            "/bucket/": {"get": {"parameters": window,
                                 "responses": _answers({"type": "array", "items": _BUCKET})}},
            "/bucket/{bucketId}": {"get": {"parameters": [bucket_id],
                                           "responses": _answers(_BUCKET)}},
        },
    }


class WindowError(ValueError):
    def __init__(self, http: int, message: str) -> None:
        super().__init__(message)
        self.http = http


def _integer(params: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise WindowError(400, f"querystring/{name} must be integer") from None
    if value < minimum:
        raise WindowError(400, f"querystring/{name} must be >= {minimum}")
    return value


def listing_window(params: Mapping[str, str], planted: frozenset[str]) -> tuple[int, int | None]:
    """(offset, limit or None) of a bucket listing; WindowError for a refused window."""
    if NEGATIVE_OFFSET_500 in planted and params.get("offset", "").startswith("-"):
        raise WindowError(500, "planted: a negative offset crashes the listing")
    limit = _integer(params, "limit", 0, 1) if "limit" in params else None
    offset = _integer(params, "offset", 0, 0)
    if HUGE_LIMIT_500 in planted and limit is not None and limit > PG_INTEGER_MAX:
        raise WindowError(500, f'value "{limit}" is out of range for type integer')
    return offset, limit

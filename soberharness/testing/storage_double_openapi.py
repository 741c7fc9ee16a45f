"""The Storage API protocol double's own OpenAPI description (GET /documentation/json, as the
Storage API serves its own), of the routes the contract suite runs: the bucket listing with
its `limit`/`offset` window, one bucket by id, and the bucket writes (create, update, empty,
delete) it runs on its own bucket where destructive work is allowed. Also the listing's
window, and the planted defects the contract suite's selftest looks for (`CONTRACT_PLANTED`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PG_INTEGER_MAX = 2**31 - 1

# As Storage API v1.70.6 does (declared in stack/declarations.toml): a limit past a PostgreSQL
# integer answers 500.
HUGE_LIMIT_500 = "bucket-list-500-on-huge-limit"
# Not upstream: a negative offset answers 500 (the description says minimum 0: a 400 is due).
NEGATIVE_OFFSET_500 = "bucket-list-500-on-negative-offset"
# Not upstream: deleting a bucket deletes the first bucket by id instead (it reaches the world).
DELETE_FIRST_BUCKET = "bucket-delete-removes-the-first-bucket"
CONTRACT_PLANTED = frozenset({HUGE_LIMIT_500, NEGATIVE_OFFSET_500, DELETE_FIRST_BUCKET})

_ERROR = {"type": "object", "required": ["statusCode", "error", "message"],
          "properties": {"statusCode": {"type": "string"}, "error": {"type": "string"},
                         "message": {"type": "string"}}}
_BUCKET = {"type": "object", "required": ["id", "name", "public"],
           "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                          "public": {"type": "boolean"},
                          "file_size_limit": {"type": ["integer", "null"]},
                          "allowed_mime_types": {"type": ["array", "null"],
                                                 "items": {"type": "string"}}}}


_MESSAGE = {"type": "object", "required": ["message"],
            "properties": {"message": {"type": "string"}}}
_NAME = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
_UPDATE = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {"public": {"type": "boolean"},
                   "file_size_limit": {"type": ["integer", "null"], "minimum": 0,
                                       "maximum": PG_INTEGER_MAX},
                   "allowed_mime_types": {"type": ["array", "null"],
                                          "items": {"type": "string"}}}}}}}
_CREATE = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["id"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                   "public": {"type": "boolean"}}}}}}


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
            "/bucket/{bucketId}": {
                "get": {"parameters": [bucket_id], "responses": _answers(_BUCKET)},
                "put": {"parameters": [bucket_id], "requestBody": _UPDATE,
                        "responses": _answers(_MESSAGE)},
                "delete": {"parameters": [bucket_id], "responses": _answers(_MESSAGE)},
            },
            "/bucket/{bucketId}/empty": {"post": {"parameters": [bucket_id],
                                                  "responses": _answers(_MESSAGE)}},
            "/bucket": {"post": {"requestBody": _CREATE, "responses": _answers(_NAME)}},
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

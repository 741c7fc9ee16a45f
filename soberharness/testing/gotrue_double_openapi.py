"""Our own small OpenAPI description of the GoTrue protocol double's routes, for the contract
suite's selftest (the real one is GoTrue's openapi.yaml; a target file names either the same
way, as GOTRUE_OPENAPI_SPEC). Written from what the double answers: reads (health, the audit
log, the user listing, one user), the admin user writes the contract suite runs on a user of
its own where destructive work is allowed (PUT and DELETE /admin/users/{userId}; POST
/admin/users names no user in its path and is left out), `POST /invite` (a write naming none),
and the SSO providers, whose POST makes GoTrue fetch a metadata_url."""

from __future__ import annotations

from typing import Any

_ERROR = {"type": "object", "required": ["code", "error_code", "msg"],
          "properties": {"code": {"type": "integer"}, "error_code": {"type": "string"},
                         "msg": {"type": "string"}}}
_STAMP = {"type": "string", "nullable": True}
_USER = {"type": "object",
         "required": ["id", "aud", "role", "email", "app_metadata", "user_metadata",
                      "created_at", "updated_at"],
         "properties": {"id": {"type": "string", "format": "uuid"}, "aud": {"type": "string"},
                        "role": {"type": "string"}, "email": {"type": "string"},
                        "phone": {"type": "string"}, "email_confirmed_at": _STAMP,
                        "phone_confirmed_at": _STAMP, "banned_until": _STAMP,
                        "app_metadata": {"type": "object"},
                        "user_metadata": {"type": "object"},
                        "identities": {"type": "array"}, "created_at": {"type": "string"},
                        "updated_at": {"type": "string"}}}
# GoTrue's admin parameters (a null is as good as leaving the field out).
_PARAMS = {"type": "object", "properties": {
    **{name: {"type": "string", "nullable": True}
       for name in ("email", "phone", "password", "role", "ban_duration")},
    **{name: {"type": "boolean", "nullable": True}
       for name in ("email_confirm", "phone_confirm")},
    **{name: {"type": "object", "nullable": True}
       for name in ("user_metadata", "app_metadata")},
}}
_DELETE = {"type": "object", "properties": {
    "should_soft_delete": {"type": "boolean", "nullable": True}}}


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _answers(ok: dict[str, Any]) -> dict[str, Any]:
    return {"200": _json(ok), "4XX": _json(_ERROR, "refused")}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def openapi_description() -> dict[str, Any]:
    paging = [{"name": name, "in": "query", "schema": {"type": "integer"}}
              for name in ("page", "per_page")]
    user_id = {"name": "userId", "in": "path", "required": True,
               "schema": {"type": "string", "format": "uuid"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "GoTrue routes of the protocol double", "version": "0"},
        "paths": {
            "/health": {"get": {"responses": {"200": _json(
                {"type": "object", "required": ["version"]}, "up")}}},
            "/admin/audit": {"get": {"parameters": paging, "responses": {
                "200": _json({"type": "array"}, "entries"), "400": {"description": "paging"}}}},
            "/admin/users": {
                "get": {"parameters": paging, "responses": _answers({
                    "type": "object", "required": ["users"],
                    "properties": {"users": {"type": "array", "items": _USER},
                                   "aud": {"type": "string"}}})},
                "post": {"requestBody": _body(_PARAMS), "responses": _answers(_USER)},
            },
            "/admin/users/{userId}": {
                "get": {"parameters": [user_id], "responses": _answers(_USER)},
                "put": {"parameters": [user_id], "requestBody": _body(_PARAMS),
                        "responses": _answers(_USER)},
                "delete": {"parameters": [user_id], "requestBody": {
                    "required": False, "content": {"application/json": {"schema": _DELETE}}},
                    "responses": _answers({"type": "object"})},
            },
            "/admin/sso/providers": {
                "get": {"responses": {"200": {"description": "providers"}}},
                "post": {"responses": {"201": {"description": "created"}}},
            },
            "/invite": {"post": {"responses": {"200": {"description": "invited"}}}},
        },
    }

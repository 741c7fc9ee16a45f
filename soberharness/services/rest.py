"""PostgREST: the REST API over the exposed schemas. The matrix runs its requests as SQL the
way PostgREST does (soberharness.clients.postgrest_sql); over HTTP the harness speaks to it with
soberharness.clients.postgrest, built here."""

from __future__ import annotations

import httpx

from soberharness.clients.postgrest import TIMEOUT_S, PostgrestClient
from soberharness.services.facts import ServiceFacts

FACTS = ServiceFacts("rest", "PostgREST", compose=("rest", "gateway"), gateway_path="/rest/v1",
                     health_path="/")


def client(url: str, api_key: str, token: str | None = None, timeout: float = TIMEOUT_S,
           transport: httpx.BaseTransport | None = None) -> PostgrestClient:
    """A PostgREST client at `url` (the target's rest root), sending `api_key` and, as the
    caller's bearer token, `token` (the key itself when None)."""
    return PostgrestClient(url, api_key, token, timeout, transport=transport)

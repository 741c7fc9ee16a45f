"""PostgREST: the REST API over the exposed schemas. The harness runs its requests as SQL the
way PostgREST does (soberharness.clients.postgrest_sql), so no HTTP client here."""

from __future__ import annotations

from soberharness.services.facts import ServiceFacts

FACTS = ServiceFacts("rest", "PostgREST", compose=("rest", "gateway"), gateway_path="/rest/v1",
                     health_path="/")

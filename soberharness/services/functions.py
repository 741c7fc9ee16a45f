"""The edge runtime (Supabase Functions, run here by Deno)."""

from __future__ import annotations

from soberharness.services.facts import ServiceFacts

FACTS = ServiceFacts("functions", "edge runtime", compose=("functions", "gateway"),
                     gateway_path="/functions/v1", health_path="/")

"""Realtime: postgres_changes, broadcast and presence over a Phoenix websocket
(soberharness.clients.realtime; a run's endpoint is workload.realtime_fanout's)."""

from __future__ import annotations

from soberharness.services.facts import ServiceFacts

FACTS = ServiceFacts("realtime", "Realtime", compose=("realtime", "gateway"),
                     gateway_path="/realtime/v1", health_path="/websocket")

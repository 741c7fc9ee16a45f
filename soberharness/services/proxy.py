"""Toxiproxy: network faults in front of the database (its API client and process are
soberharness.targets.services.toxiproxy; not part of the compose stack)."""

from __future__ import annotations

from soberharness.services.facts import ServiceFacts

FACTS = ServiceFacts("proxy", "Toxiproxy", health_path="/version")

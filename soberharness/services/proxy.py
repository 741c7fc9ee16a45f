"""Toxiproxy: network faults in front of the database (not part of the compose stack; its
server process is soberharness.targets.services.toxiproxy)."""

from __future__ import annotations

from soberharness.clients.toxiproxy import ToxiproxyClient
from soberharness.services.facts import ServiceFacts

FACTS = ServiceFacts("proxy", "Toxiproxy", health_path="/version")


def client(url: str, timeout: float = 5.0) -> ToxiproxyClient:
    """A Toxiproxy API client at `url`."""
    return ToxiproxyClient(url, timeout=timeout)

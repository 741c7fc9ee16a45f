"""What the harness knows of one service of the stack, whatever target runs it."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ServiceFacts:
    name: str  # the service as suites ask for it (targets.base.Service's value)
    runs: str  # the real service
    compose: tuple[str, ...] = ()  # the compose services it needs (stack/docker-compose.yml)
    gateway_path: str | None = None  # its root behind the API gateway (Supabase's layout)
    health_path: str | None = None  # relative to its root: answers without side effects

"""PostgreSQL: direct SQL as an admin (setup, matrix, lints); no HTTP root, no client here
(psycopg connects to a target's admin DSN)."""

from __future__ import annotations

from soberharness.services.facts import ServiceFacts

FACTS = ServiceFacts("postgres", "PostgreSQL", compose=("db",))

"""Every schema lint in one registry, of both kinds:

* catalog lints (soberharness.lints.catalog.RULES) read the catalog alone;
* world lints write a seeded world (the surface world) in a transaction that is rolled back,
  and probe it as the API roles (soberharness.lints.write_reach).

A new lint is one entry here (and its module); `run_all` runs every one, `lint_names` names them
for the run report and the declaration file's stale check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import psycopg

from soberharness.db import session as db_session
from soberharness.lints import anon_probe, write_reach
from soberharness.lints.base import LintRule
from soberharness.lints.catalog import RULES, run_lints
from soberharness.records.results import LintFinding, Severity
from soberharness.world.surface_world import SurfaceWorld, build_surface_world

WorldCheck = Callable[[psycopg.Connection, SurfaceWorld, list[str]], list[LintFinding]]


@dataclasses.dataclass(frozen=True)
class WorldLint:
    """A lint that needs rows to probe: it gets a connection outside autocommit (its caller
    rolls back) and the surface world."""

    name: str
    severity: Severity
    summary: str
    check: WorldCheck


CATALOG_LINTS: tuple[LintRule, ...] = RULES
WORLD_LINTS: tuple[WorldLint, ...] = (
    WorldLint(
        write_reach.RULE,
        Severity.WARN,
        "an INSERT, UPDATE or DELETE policy reaching rows the SELECT policies hide",
        write_reach.write_policy_lint,
    ),
    WorldLint(
        anon_probe.RULE,
        Severity.WARN,
        "a policy admitting rows to a session without a user (live probe as anon and as a "
        "token without sub)",
        anon_probe.anonymous_lint,
    ),
)


def lint_names() -> list[str]:
    """Every lint's name: catalog lints first, then world lints."""
    return [rule.name for rule in CATALOG_LINTS] + [lint.name for lint in WORLD_LINTS]


def run_all(dsn: str, run_id: str, schemas: Sequence[str],
            auth_hooks: Mapping[str, str] | None = None) -> list[LintFinding]:
    """Every lint against the database at `dsn`: catalog lints (read-only; `auth_hooks` are
    the functions the auth service calls), then each world lint on the surface world of
    `run_id`, written and rolled back."""
    with db_session.connect(dsn, autocommit=True) as conn:
        found = run_lints(conn, schemas, CATALOG_LINTS, auth_hooks)
    for lint in WORLD_LINTS:
        with db_session.connect(dsn) as conn:
            found += lint.check(conn, build_surface_world(run_id), list(schemas))
    return found

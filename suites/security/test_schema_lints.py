"""Lints of the deployed schema, in the spirit of Supabase's splinter: the static catalog rules,
and the write-reach rule, which asks the database (in the surface world, rolled back) which rows
a bare UPDATE/DELETE reaches that SELECT hides.

An error fails; a warning fails unless the stack's declaration file accepts it with a reason
(`stack/declarations.toml`); a declaration that accepts nothing fails as stale. The Storage API's
own objects are accepted by its registry for the storage schema version seen, where the
condition the registry's reason rests on holds (soberharness.checker.storage_api_objects).
"""

from __future__ import annotations

import psycopg
import pytest

from soberharness.checker import write_reach
from soberharness.checker.declarations import Declarations, failing
from soberharness.checker.lints import RULES, exposed_schemas, run_lints
from soberharness.checker.results import LintFinding
from soberharness.checker.storage_api_objects import KnownStorageApi
from soberharness.report.run_report import RunReport
from soberharness.world.surface_world import build_surface_world

RULE_NAMES = [rule.name for rule in RULES] + [write_reach.RULE]


@pytest.fixture(scope="module")
def findings(
    module_database: str, run_report: RunReport, declarations: Declarations,
    storage_api: KnownStorageApi,
) -> list[LintFinding]:
    schemas = exposed_schemas()
    with psycopg.connect(module_database, autocommit=True) as conn:
        found = run_lints(conn, schemas)
    with psycopg.connect(module_database) as conn:
        found += write_reach.write_policy_lint(
            conn, build_surface_world(run_report.run_id), schemas)
    judged = declarations.judge(storage_api.accept(found))
    run_report.lints.extend(judged)
    run_report.lint_rules.extend(RULE_NAMES)
    return judged


@pytest.mark.needs("postgres")
def test_schema_has_no_error_and_no_undeclared_warning(findings: list[LintFinding]) -> None:
    bad = failing(findings)
    assert not bad, "\n".join(
        f"{f.rule} [{f.severity}]: {f.object}: {f.message}"
        + (" (declare it in the declaration file with a reason)" if f.severity == "warn" else "")
        for f in bad
    )


@pytest.mark.needs("postgres")
def test_every_lint_declaration_accepts_a_finding(
    findings: list[LintFinding], declarations: Declarations
) -> None:
    stale = declarations.stale(findings, RULE_NAMES)
    assert not stale, "\n".join(
        f"{d.where}: {d.rule} on {d.object} matches no finding: remove it" for d in stale
    )

"""Lints of the deployed schema, in the spirit of Supabase's splinter: every lint of
soberharness.lints.registry, the static catalog rules and the world lints (the write-reach
rule asks the database, in the surface world rolled back, which rows a bare UPDATE/DELETE or an
INSERT reaches that SELECT hides; the anonymous probe which rows a session without a user reads
that a signed-in stranger cannot). Info findings are reported and never fail.

An error fails; a warning fails unless the stack's declaration file accepts it with a reason
(`stack/declarations.toml`); a declaration that accepts nothing fails as stale. The Storage API's
own objects are accepted by its registry for the storage schema version seen, where the
condition the registry's reason rests on holds (soberharness.lints.storage_api_objects).
"""

from __future__ import annotations

import pytest

from soberharness.lints.auth_hooks import hook_functions
from soberharness.lints.catalog import exposed_schemas
from soberharness.lints.declarations import Declarations, failing
from soberharness.lints.registry import lint_names, run_all
from soberharness.lints.storage_api_objects import KnownStorageApi
from soberharness.records.results import LintFinding
from soberharness.report.run_report import RunReport
from soberharness.targets.base import Target

RULE_NAMES = lint_names()


@pytest.fixture(scope="module")
def findings(
    module_database: str, run_report: RunReport, declarations: Declarations,
    storage_api: KnownStorageApi, target: Target,
) -> list[LintFinding]:
    hooks = hook_functions(target.settings)  # the auth service's hooks, as the target sets them
    found = run_all(module_database, run_report.run_id, exposed_schemas(), hooks)
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

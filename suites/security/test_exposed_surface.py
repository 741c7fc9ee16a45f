"""Every function and view the API roles reach, called and read as every actor, judged by the
access model (soberharness.lints.exposed_surface). Surfaces the model cannot judge fail unless
the stack's declaration file accepts them with a reason, or the Storage API's registry does for
its own functions (soberharness.lints.storage_api_objects)."""

from __future__ import annotations

import pytest

from soberharness.db import session as db_session
from soberharness.lints.catalog import exposed_schemas
from soberharness.lints.declarations import Declarations, failing
from soberharness.lints.exposed_surface import RULES, SurfaceRun, check_exposed_surface
from soberharness.lints.storage_api_objects import KnownStorageApi
from soberharness.records.results import LintFinding
from soberharness.report.run_report import RunReport
from soberharness.world.surface_world import build_surface_world


@pytest.fixture(scope="module")
def surface(module_database: str, run_report: RunReport) -> SurfaceRun:
    with db_session.connect(module_database) as conn:
        run = check_exposed_surface(conn, build_surface_world(run_report.run_id),
                                    exposed_schemas())
    run_report.notes["exposed surface"] = run.summary()
    return run


@pytest.fixture(scope="module")
def findings(
    surface: SurfaceRun, run_report: RunReport, declarations: Declarations,
    storage_api: KnownStorageApi,
) -> list[LintFinding]:
    judged = declarations.judge(storage_api.accept(surface.findings()))
    run_report.lints.extend(judged)
    run_report.lint_rules.extend(RULES)
    return judged


@pytest.mark.needs("postgres")
def test_exposed_functions_and_views_return_only_what_the_model_allows(
    surface: SurfaceRun, findings: list[LintFinding]
) -> None:
    assert surface.objects, "no exposed function or view found: the discovery is broken"
    bad = failing(findings)
    assert not bad, "\n".join(f"{f.rule} [{f.severity}]: {f.object}: {f.message}" for f in bad)


@pytest.mark.needs("postgres")
def test_judged_surfaces_answered_with_rows(surface: SurfaceRun) -> None:
    # A check that saw no rows proves nothing: the world must reach the judged surfaces.
    judged = [o for o in surface.objects if o not in surface.unmodelled]
    assert not judged or surface.rows_judged > 0, surface.summary()


@pytest.mark.needs("postgres")
def test_every_exposed_declaration_accepts_a_finding(
    findings: list[LintFinding], declarations: Declarations
) -> None:
    stale = declarations.stale(findings, RULES)
    assert not stale, "\n".join(
        f"{d.where}: {d.object} is declared but not an exposed surface the model cannot "
        "judge: remove it" for d in stale
    )

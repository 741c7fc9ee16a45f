"""One registry for both kinds of lint: catalog lints and world lints run through `run_all`,
and a planted defect that only a world lint sees (an UPDATE policy reaching rows SELECT hides)
is reported by that lint, on its table, with nothing else new."""

from __future__ import annotations

from soberharness.db import session as db_session
from soberharness.lints import write_reach
from soberharness.lints.catalog import RULES
from soberharness.lints.registry import CATALOG_LINTS, WORLD_LINTS, lint_names, run_all


def _keys(dsn: str) -> set[tuple[str, str]]:
    return {(f.rule, f.object) for f in run_all(dsn, "lint-registry", ["public", "storage"])}


def test_every_lint_is_named_once_catalog_lints_first() -> None:
    names = lint_names()
    assert len(names) == len(set(names)) == len(CATALOG_LINTS) + len(WORLD_LINTS)
    assert names[: len(RULES)] == [rule.name for rule in RULES]
    assert write_reach.RULE in names[len(RULES):]


def test_a_world_lint_reports_a_planted_write_policy(scratch_database: str) -> None:
    before = _keys(scratch_database)
    with db_session.connect(scratch_database, autocommit=True) as conn:
        # SELECT hides some posts (private owners', hidden ones); this UPDATE reaches them all.
        conn.execute("CREATE POLICY planted_update_all ON public.posts FOR UPDATE "
                     "TO authenticated USING (true) WITH CHECK (true)")
    after = _keys(scratch_database)
    # The world lint (write reach) and the catalog lints that read the policy's text.
    assert after - before == {(write_reach.RULE, "public.posts"),
                              ("multiple_permissive_policies", "public.posts"),
                              ("rls_policy_always_true", "public.posts policy planted_update_all")}

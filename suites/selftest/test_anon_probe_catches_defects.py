"""The anonymous-session probe can fail: a policy planted to admit rows when the session has no
user (anon, or a token without `sub`) is reported as exactly its table and role; public reads and
the clean stack admit nothing to the identity-less session that a signed-in stranger is denied."""

from __future__ import annotations

import pytest

from soberharness.db import session as db_session
from soberharness.lints.anon_probe import RULE, Admitted, find_admitted, findings_of
from soberharness.lints.catalog import DEFAULT_EXPOSED_SCHEMAS
from soberharness.world.surface_world import build_surface_world

pytestmark = pytest.mark.needs("postgres")


def _admitted(dsn: str, statements: list[str]) -> list[Admitted]:
    with db_session.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())
    with db_session.connect(dsn) as conn:
        return find_admitted(conn, build_surface_world(), list(DEFAULT_EXPOSED_SCHEMAS))


def test_clean_stack_admits_nothing_for_lacking_a_user(scratch_database: str) -> None:
    assert _admitted(scratch_database, []) == []


def test_anon_policy_true_when_uid_is_null(scratch_database: str) -> None:
    admitted = _admitted(scratch_database, [
        "grant select on public.blocks to anon",
        "create policy blocks_unsigned on public.blocks for select to anon "
        "using ((select auth.uid()) is null)",
    ])
    assert [(a.table, a.role) for a in admitted] == [("public.blocks", "anon")]
    assert admitted[0].rows > 0
    assert [(f.rule, f.object) for f in findings_of(admitted)] == [(RULE, "public.blocks")]


def test_token_without_sub_satisfies_a_coalesce(scratch_database: str) -> None:
    admitted = _admitted(scratch_database, [
        "create policy blocks_own_or_unknown on public.blocks for select to authenticated "
        "using (coalesce(blocker_id = (select auth.uid()), true))",
    ])
    assert [(a.table, a.role) for a in admitted] == [("public.blocks", "authenticated")]


def test_near_miss_public_read_admits_both_alike(scratch_database: str) -> None:
    assert _admitted(scratch_database, [
        "grant select on public.blocks to anon",
        "create policy blocks_public on public.blocks for select to anon, authenticated "
        "using (blocked_id is not null)",
    ]) == []

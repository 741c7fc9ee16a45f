"""The security suite's schema checks pass on a Storage API's own schema and still catch a leak
planted there: each test builds, in a scratch database, the schema double of a real Storage API
version (soberharness.testing.storage_api_schema_double: the real names, columns, signatures and
grants, narrowed as the stack documents), runs the lints, the coverage check, the exposed-surface
check and the registry's own check as the suite runs them, and asserts exactly what fails."""

from __future__ import annotations

import dataclasses

import pytest

from soberharness.db import session as db_session
from soberharness.lints import exposed_surface
from soberharness.lints.catalog import DEFAULT_EXPOSED_SCHEMAS, run_lints
from soberharness.lints.coverage import matrix_surface, reachable_surface, uncovered
from soberharness.lints.declarations import (
    default_path,
    failing,
    load_declarations,
)
from soberharness.lints.storage_api_objects import RULE, KnownStorageApi, known_storage_api
from soberharness.lints.storage_schema import grant_findings
from soberharness.records.results import UNMODELLED_RULE
from soberharness.targets.migrations import REPO
from soberharness.testing import storage_api_schema_double as double
from soberharness.world.matrix_world import build_matrix_world
from soberharness.world.surface_world import build_surface_world

STACK = load_declarations(default_path(REPO / "stack" / "migrations"), required=True)
LISTINGS = {
    "storage.search(prefix text, bucketname text, limits integer, levels integer, "
    "offsets integer, search text, sortcolumn text, sortorder text)",
    "storage.search_v2(prefix text, bucket_name text, limits integer, levels integer, "
    "start_after text, sort_order text, sort_column text, sort_column_after text)",
    "storage.search_by_timestamp(p_prefix text, p_bucket_id text, p_limit integer, "
    "p_level integer, p_start_after text, p_sort_order text, p_sort_column text, "
    "p_sort_column_after text)",
    "storage.list_objects_with_delimiter(_bucket_id text, prefix_param text, "
    "delimiter_param text, max_keys integer, start_after text, next_token text, "
    "sort_order text)",
}


@dataclasses.dataclass
class Checked:
    known: KnownStorageApi
    lints: list  # accepted by the registry and the stack's declarations, as the suite does
    coverage: list[str]
    surface: exposed_surface.SurfaceRun
    surface_findings: list

    def failing_lints(self) -> set[tuple[str, str]]:
        return {(f.rule, f.object) for f in failing(self.lints)}

    def failing_surface(self) -> set[tuple[str, str]]:
        return {(f.rule, f.object) for f in failing(self.surface_findings)}


def _check(dsn: str, version: int, plants: tuple[str, ...] = ()) -> Checked:
    with db_session.connect(dsn, autocommit=True) as conn:
        double.apply(conn, version)
        for plant in plants:
            conn.execute(plant.encode())
        known = known_storage_api(conn)
        lints = STACK.judge(known.accept(run_lints(conn, DEFAULT_EXPOSED_SCHEMAS)))
        coverage = uncovered(reachable_surface(conn), matrix_surface(build_matrix_world()), known)
    with db_session.connect(dsn) as conn:
        run = exposed_surface.check_exposed_surface(conn, build_surface_world(),
                                                    DEFAULT_EXPOSED_SCHEMAS)
    return Checked(known, lints, coverage, run, STACK.judge(known.accept(run.findings())))


def _assert_clean(checked: Checked) -> None:
    assert checked.known.problems == ()
    assert checked.failing_lints() == set()
    assert checked.coverage == []
    assert checked.failing_surface() == set()


@pytest.mark.needs("postgres")
@pytest.mark.parametrize(("version", "label"), [
    (56, "Storage API migration 56 fix-optimized-search-function (v1.44.2 and later)"),
    (63, "Storage API migration 63 fix-search-name-relative-to-prefix (v1.70.5 and later)"),
])
def test_a_real_storage_api_schema_passes_and_names_its_version(
    scratch_database: str, version: int, label: str
) -> None:
    checked = _check(scratch_database, version)
    _assert_clean(checked)
    assert checked.known.note()["version"] == label
    # Its internal tables are verified so, and its listings are judged row by row, not skipped.
    assert {"storage.buckets_analytics", "storage.s3_multipart_uploads",
            "storage.vector_indexes"} <= checked.known.internal
    assert all(checked.surface.answered.get(f) for f in LISTINGS)
    assert not LISTINGS & {o.label for o in checked.surface.unmodelled}
    # What the registry accepted would fail without it: the double is the schema that broke.
    without = {(f.rule, f.object) for f in failing(run_lints_plain(scratch_database))}
    assert ("rls_enabled_no_policy", "storage.buckets_analytics") in without
    assert any(rule == "function_search_path_mutable" for rule, _ in without)


def run_lints_plain(dsn: str) -> list:
    with db_session.connect(dsn, autocommit=True) as conn:
        return run_lints(conn, DEFAULT_EXPOSED_SCHEMAS)


@pytest.mark.needs("postgres")
def test_the_double_needs_the_stacks_narrowing(scratch_database: str) -> None:
    # Without narrow-storage-grants.sql the API's grant-all on buckets and objects shows, and
    # its default privileges' grant-all on its own tables.
    with db_session.connect(scratch_database, autocommit=True) as conn:
        double.apply(conn, 63, narrow=False)
        tables = {f.object for f in grant_findings(conn)}
        double.apply_narrowing(conn)
        assert grant_findings(conn) == []
    assert {"storage.buckets", "storage.objects", "storage.buckets_analytics"} <= tables
    assert "storage.migrations" not in tables


@pytest.mark.needs("postgres")
def test_an_exposed_function_returning_all_objects_is_exactly_its_findings(
    scratch_database: str,
) -> None:
    label = "storage.every_object()"
    checked = _check(scratch_database, 63, (
        "set role supabase_storage_admin",
        "create function storage.every_object() returns setof storage.objects language sql "
        "stable security definer set search_path = '' as $$ select * from storage.objects $$",
        "reset role",
    ))
    assert checked.known.problems == ()
    # the definer runs as storage.objects' owner, which does not bypass RLS: FORCE would apply
    assert checked.failing_lints() == {("security_definer_function_executable", label),
                                       ("rls_not_forced", "storage.objects")}
    assert checked.coverage == []
    assert checked.failing_surface() == {(exposed_surface.LEAK_RULE, label)}


@pytest.mark.needs("postgres")
def test_a_policy_letting_authenticated_read_videos_leaks_through_every_listing(
    scratch_database: str,
) -> None:
    checked = _check(scratch_database, 63, (
        "create policy planted_videos on storage.objects for select to authenticated "
        "using (bucket_id = 'videos')",
    ))
    assert checked.failing_surface() == {(exposed_surface.LEAK_RULE, f) for f in LISTINGS}
    leaked = {lk.key for lk in checked.surface.leaks}
    world = build_surface_world().world
    assert leaked and all(world.objects[k].bucket == "videos" for k in leaked)
    assert checked.failing_lints() == set()


@pytest.mark.needs("postgres")
def test_a_new_table_granted_to_anon_is_exactly_its_findings(scratch_database: str) -> None:
    checked = _check(scratch_database, 63, (
        "set role supabase_storage_admin",
        "create table storage.upload_audit (id bigint primary key, note text)",
        "reset role",
        "grant select on storage.upload_audit to anon",
    ))
    assert checked.failing_lints() == {("rls_disabled_in_public", "storage.upload_audit"),
                                       ("anon_unexpected_grant", "storage.upload_audit")}
    assert checked.coverage
    assert all(line.startswith("storage.upload_audit") for line in checked.coverage)
    assert checked.known.problems == ()


@pytest.mark.needs("postgres")
def test_a_policy_on_an_internal_table_makes_it_reachable_and_reported(
    scratch_database: str,
) -> None:
    checked = _check(scratch_database, 63, (
        "create policy planted_open on storage.buckets_analytics for select to anon "
        "using (true)",
    ))
    assert {(f.rule, f.object) for f in checked.known.problems} == {
        (RULE, "storage.buckets_analytics")}
    assert "storage.buckets_analytics" not in checked.known.internal
    assert checked.coverage == [
        "storage.buckets_analytics: select is open to the API roles but has no matrix case"]


@pytest.mark.needs("postgres")
def test_a_storage_api_function_turned_definer_is_reported(scratch_database: str) -> None:
    label = "storage.get_size_by_bucket()"
    checked = _check(scratch_database, 63, (
        "alter function storage.get_size_by_bucket() security definer",
    ))
    assert {(f.rule, f.object) for f in checked.known.problems} == {(RULE, label)}
    assert checked.failing_lints() == {("security_definer_function_executable", label),
                                       ("function_search_path_mutable", label),
                                       ("rls_not_forced", "storage.objects")}
    assert checked.failing_surface() == {(UNMODELLED_RULE, label)}


@pytest.mark.needs("postgres")
def test_an_object_of_a_later_version_is_unknown_at_an_earlier_one(
    scratch_database: str,
) -> None:
    # allow_only_operation comes with migration 58: on a schema at 56 nobody vouches for it.
    label = "storage.allow_only_operation(expected_operation text)"
    checked = _check(scratch_database, 56, (
        "set role supabase_storage_admin",
        "create function storage.allow_only_operation(expected_operation text) returns boolean "
        "language sql stable as $$ select current_setting('storage.operation', true) = "
        "expected_operation $$",
        "reset role",
    ))
    assert checked.failing_lints() == {("function_search_path_mutable", label)}
    assert checked.failing_surface() == {(UNMODELLED_RULE, label)}


@pytest.mark.needs("postgres")
def test_the_bootstrap_copy_is_named_as_such(scratch_database: str) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        seen = known_storage_api(conn).seen
    assert (seen.origin, seen.migration) == ("bootstrap", None)
    assert seen.label.startswith("bootstrap copy (stack/bootstrap/20_storage.sql), empty ledger")

"""The REST matrix's client, runner and judgement against the PostgREST protocol double over a
scratch copy of the local stack: clean it finds nothing; a planted leaky policy is named as
exactly the cells the model denies; a planted divergence of the HTTP path (the double drops a
table's filters) is named as exactly the cells where HTTP and SQL must then differ; a planted
table or function appears as unmodelled exposed surface."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from soberharness.access.model import AccessModel
from soberharness.checker.rest_matrix import DISAGREE, EMBED, MISMATCH, RestRun, cells_of
from soberharness.checker.rest_surface import unmodelled_paths
from soberharness.clients.postgrest import PostgrestClient
from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.lints import rest_paths as rs
from soberharness.lints.catalog import exposed_schemas
from soberharness.lints.declarations import failing, load_declarations
from soberharness.lints.storage_api_objects import known_storage_api
from soberharness.runner import rest_matrix as rm
from soberharness.targets.base import Target
from soberharness.testing.postgrest_protocol_double import (
    BASE_URL,
    Faults,
    PostgrestProtocolDouble,
)
from soberharness.world.entities import Post, Privacy, Viewer
from soberharness.world.matrix_world import ACTORS, MatrixWorld, build_matrix_world

DECLARATIONS = Path(__file__).resolve().parents[2] / "stack" / "declarations.toml"
# Rows as their values, without the clock columns a re-inserted row takes anew.
CHECKSUM = """select string_agg(h, '' order by h) from (select md5((to_jsonb(t) - array[
    'created_at', 'updated_at', 'last_accessed_at'])::text) h from {} t) x"""
WORLD_TABLES = ("public.profiles", "public.follows", "public.blocks", "public.posts",
                "public.videos", "public.comments", "public.likes",
                "public.account_deletion_requests", "storage.objects", "storage.buckets")


class Rig:
    def __init__(self, target: Target, dsn: str, faults: Faults | None = None) -> None:
        self.dsn = dsn
        self.mw: MatrixWorld = build_matrix_world()
        with db_session.connect(dsn, autocommit=True) as conn:
            write_world(conn, self.mw.world)
        secret = target.keys.jwt_secret
        assert secret
        self.keys = rm.RestKeys.minted(secret)
        self.double = PostgrestProtocolDouble(dsn, secret, faults=faults)
        self.api = PostgrestClient(BASE_URL, self.keys.anon_key, transport=self.double)
        self.callers = rm.Callers(self.api, self.keys)

    def run(self, sample: list[rm.RestCell] | None = None) -> RestRun:
        sample = sample if sample is not None else rm.sample_cells(self.mw)
        verdicts = rm.sql_verdicts(self.dsn, self.mw, sample)
        with db_session.connect(self.dsn, autocommit=True) as admin:
            return rm.run_rest_matrix(self.mw, self.callers, admin, sample, verdicts,
                                      shared_writes=True)

    def checksums(self) -> dict[str, str]:
        with db_session.connect(self.dsn) as conn:
            return {t: conn.execute(CHECKSUM.format(t)).fetchone()[0] for t in WORLD_TABLES}

    def close(self) -> None:
        self.api.close()
        self.double.close()


@pytest.fixture
def rig(target: Target, scratch_database: str) -> Iterator[Rig]:
    r = Rig(target, scratch_database)
    yield r
    r.close()


def _break(dsn: str, statement: str) -> None:
    with db_session.connect(dsn, autocommit=True) as conn:
        conn.execute(statement.encode())


@pytest.mark.needs("postgres")
def test_clean_stack_agrees_with_model_and_sql_and_is_left_as_found(rig: Rig) -> None:
    before = rig.checksums()
    sample = rm.sample_cells(rig.mw)
    run = rig.run(sample)
    assert len(run.results) == len(sample) > 0
    assert not run.mismatches, "\n".join(run.mismatch_lines())
    assert not run.disagreements and not run.embed_mismatches, run.summary()
    refused = sum(1 for r in run.results if "must refuse" in r.detail)
    assert run.compared_with_sql == len(sample) - refused > 0
    assert run.embeds_judged > 0
    assert {r.expected for r in run.results} == {True, False}
    assert rig.checksums() == before, "the REST matrix left the world changed"
    assert rig.double.requests >= len(sample)


@pytest.mark.needs("postgres")
def test_sample_covers_every_table_op_actor_at_both_privacy_extremes(rig: Rig) -> None:
    from soberharness.workload.matrix_cases import CASES

    sample = rm.sample_cells(rig.mw)
    assert sample == rm.sample_cells(rig.mw), "the sample is deterministic"
    got = {(c.cell.table, c.cell.op, c.cell.actor, c.cell.privacy) for c in sample}
    for case in CASES:
        for privacy in {Privacy.PUBLIC, Privacy.PRIVATE} & set(case.privacies):
            for actor in ACTORS:
                assert (case.table, case.op, actor, privacy.value) in got
    assert {c.form for c in sample} >= {"select", "insert", "upsert", "update", "delete"}
    assert rm.sample_cells(rig.mw, seed="other") != sample, "the seed picks the cases"


@pytest.mark.needs("postgres")
def test_leaky_post_policy_is_named_as_exactly_the_denied_post_reads(rig: Rig) -> None:
    _break(rig.dsn, "create policy leak on public.posts for select to anon, authenticated "
                    "using (true)")
    sample = rm.sample_cells(rig.mw)
    model = AccessModel(rig.mw.world)
    denied = {c.cell for c in sample if c.cell.table == "posts" and c.cell.op.value == "select"
              and not model.can_read(c.ctx.viewer, c.action.target)}
    assert denied
    run = rig.run(sample)
    assert cells_of(run, MISMATCH) == denied
    assert cells_of(run, DISAGREE) == set(), "SQL and HTTP leak alike"


@pytest.mark.needs("postgres")
def test_double_dropping_a_filter_is_named_as_rest_sql_disagreement(
    target: Target, scratch_database: str
) -> None:
    rig = Rig(target, scratch_database, Faults(ignore_filters={"posts"}))
    try:
        sample = rm.sample_cells(rig.mw)
        model = AccessModel(rig.mw.world)
        # Without its filter a read returns every post the caller may read: the requested one
        # alone only when it is the one visible post.
        expected = set()
        for c in sample:
            if c.cell.table != "posts" or c.cell.op.value != "select":
                continue
            assert isinstance(c.action.target, Post)
            visible = model.visible(c.ctx.viewer)["posts"]
            sql_allows = model.can_read(c.ctx.viewer, c.action.target)
            if sql_allows != (visible == {c.action.target.id}):
                expected.add(c.cell)
        assert expected
        run = rig.run(sample)
        assert cells_of(run, DISAGREE) == expected
        assert all("posts" in d.request for d in run.disagreements)
        assert cells_of(run, EMBED) == set()
    finally:
        rig.close()


def _surface(rig: Rig) -> list:
    user = rig.callers.user(Viewer.of(rig.mw.users["stranger"]))
    docs = rs.descriptions({"anon": rig.api, "authenticated": user}, exposed_schemas())
    with db_session.connect(rig.dsn) as conn:
        surface = rs.surface_entries(conn, exposed_schemas())
    return unmodelled_paths(docs, rs.matrix_relations(rig.mw), surface)


@pytest.mark.needs("postgres")
def test_openapi_surface_clean_is_declared_and_planted_objects_are_unmodelled(rig: Rig) -> None:
    declarations = load_declarations(DECLARATIONS)
    with db_session.connect(rig.dsn) as conn:
        storage_api = known_storage_api(conn)
    clean = declarations.judge(storage_api.accept(_surface(rig)))
    assert not failing(clean), [f.object for f in failing(clean)]
    assert {f.object for f in clean} == {"storage.extension(name text)",
                                         "storage.filename(name text)",
                                         "storage.foldername(name text)"}
    _break(rig.dsn, """
        create table public.secret_notes (id uuid primary key, body text);
        grant select on public.secret_notes to anon, authenticated;
        create function public.note_count() returns bigint language sql stable
          as 'select 42::bigint';
        grant execute on function public.note_count() to anon, authenticated;
    """)
    planted = declarations.judge(storage_api.accept(_surface(rig)))
    new = {f.object for f in failing(planted)}
    assert new == {"public.secret_notes", "public.note_count()"}
    messages = {f.object: f.message for f in planted}
    assert "/secret_notes" in messages["public.secret_notes"]
    assert "no case" in messages["public.secret_notes"]
    assert "/rpc/note_count" in messages["public.note_count()"]


@pytest.mark.needs("postgres")
def test_double_refuses_what_the_gateway_and_postgrest_refuse(rig: Rig) -> None:
    no_key = PostgrestClient(BASE_URL, "", transport=rig.double)
    assert no_key.select("posts").status == 401
    forged = rig.api.as_token("eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.bad")
    answer = forged.select("posts")
    assert answer.status == 401 and answer.error is not None and answer.error.code == "PGRST301"
    wrong_schema = rig.api.select("posts", schema="private")
    assert wrong_schema.status == 406 and wrong_schema.error.code == "PGRST106"  # type: ignore[union-attr]
    anon_rows = rig.api.select("posts", {"id": uuid.uuid4()})
    assert anon_rows.status == 200 and anon_rows.rows == []


@pytest.mark.needs("postgres")
def test_writes_to_the_stacks_own_buckets_wait_for_a_destructive_opt_in(rig: Rig) -> None:
    sample = [c for c in rm.sample_cells(rig.mw) if c.cell.table == "buckets"]
    updates = {c.cell.label() for c in sample if c.cell.op.value == "update"}
    assert updates
    sent_before = rig.double.requests
    with db_session.connect(rig.dsn, autocommit=True) as admin:
        run = rm.run_rest_matrix(rig.mw, rig.callers, admin, sample, shared_writes=False)
    assert set(run.not_sent) == updates
    assert {r.cell.label() for r in run.results} == {c.cell.label() for c in sample} - updates
    assert rig.double.requests - sent_before == len(sample) - len(updates)

"""The catalogue of invisible changes is derived from the access model (not listed by hand), and
the checker explains a moved digest column by column."""

from __future__ import annotations

from soberharness.access.model import AccessModel
from soberharness.checker.noninterference import ROW, changed_relations, explain
from soberharness.workload.function_args import argument_tuples
from soberharness.workload.invisible_changes import invisible_changes, matrix_viewers
from soberharness.world.matrix_world import build_matrix_world


def test_every_table_and_kind_of_change_has_blind_viewers() -> None:
    mw = build_matrix_world()
    kinds = {(ic.change.change.table, ic.change.change.kind) for ic in invisible_changes(mw)}
    for table in ("profiles", "follows", "blocks", "posts", "videos", "comments", "likes",
                  "objects", "account_deletion_requests"):
        assert (table, "delete") in kinds or table == "profiles", table
    assert {("follows", "insert"), ("blocks", "insert"), ("likes", "insert"),
            ("posts", "update body"), ("profiles", "update handle"),
            ("profiles", "update display_name"), ("profiles", "update bio")} <= kinds


def test_a_pending_follow_is_blind_to_the_follower_but_not_to_its_parties() -> None:
    mw = build_matrix_world()
    label = "insert follows (stranger -> O_private, pending)"
    blind = next(ic.blind for ic in invisible_changes(mw) if ic.change.change.label == label)
    assert "follower" in blind and "anon" in blind
    assert not {"stranger", "self/private", "moderator", "service"} & set(blind)


def test_no_viewer_is_called_blind_to_a_row_it_reads() -> None:
    mw = build_matrix_world()
    model, viewers = AccessModel(mw.world), matrix_viewers(mw)
    for ic in invisible_changes(mw):
        for label in ic.blind:
            assert not any(model.can_read(viewers[label], e) for e in ic.change.removed), (
                ic.change.change.label, label)


def test_changed_relations_are_those_whose_digest_moved_or_vanished() -> None:
    before = {"public.a": "1:x", "public.b": "2:y", "public.c": "0:"}
    after = {"public.a": "1:x", "public.b": "2:z"}
    assert changed_relations(before, after) == ["public.b", "public.c"]


def test_explain_names_the_column_and_both_values_of_a_paired_row() -> None:
    before = [{"id": 1, "n": 0, "h": "a"}, {"id": 2, "n": 5, "h": "b"}]
    after = [{"id": 1, "n": 1, "h": "a"}, {"id": 2, "n": 5, "h": "b"}, {"id": 3, "n": 0, "h": "c"}]
    diffs = explain("Δ", "anon", "public.p", before, after, ("id",))
    assert [(d.column, d.before, d.after, d.row) for d in diffs] == [
        ("n", 0, 1, "id=1"), (ROW, None, '{"h": "c", "id": 3, "n": 0}', "id=3")]
    assert "anon" in diffs[0].describe() and "public.p.n" in diffs[0].describe()


def test_explain_without_a_key_reports_whole_rows_and_nothing_for_equal_rows() -> None:
    rows = [{"a": 1}, {"a": 1}]
    assert explain("Δ", "v", "r", rows, list(rows), ()) == []
    diffs = explain("Δ", "v", "r", rows, [{"a": 1}], ())
    assert [(d.column, d.before, d.after) for d in diffs] == [(ROW, '{"a": 1}', None)]


def test_functions_are_called_one_argument_varied_at_a_time() -> None:
    samples = {"uuid": ("u1", "u2", "u3"), "text": ("", "a"), "int": ("100", "0")}
    assert list(argument_tuples(("uuid", "text"), samples)) == [
        ("u1", ""), ("u2", ""), ("u3", ""), ("u1", "a")]
    assert list(argument_tuples((), samples)) == [()]
    assert list(argument_tuples(("uuid", "tsvector"), samples)) == [], "no samples: not called"

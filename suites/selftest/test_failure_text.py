# ruff: noqa: E501  (pytest's report lines are as long as pytest writes them)
"""Failures written for people (issue 22, item 16): pytest's introspection of an assertion and
Hypothesis's empty "Failing test case" block are left out, reprs are made readable, and the
test's own message (the cell, the minimal world or steps, what differs) is kept with its file
and line."""

from __future__ import annotations

from soberharness.report.failure_text import for_people, readable

MATRIX = """    def test_matrix(cells):
>       assert not wrong, "\\n".join(r.cell.label() for r in wrong)
E       AssertionError: stranger select posts [visible] of a private owner: expected deny, got allow
E       assert not [CellResult(cell=Cell(table='posts', op=<Op.SELECT: 'select'>, actor='stranger', privacy='private', case='visible', token=''), expected=False, actual=True, detail='1 row')]

suites/security/test_access_matrix.py:25: AssertionError"""

HYPOTHESIS = """E       AssertionError: the world differs from the model:
E         follower sees post p1 of a private owner
E         minimal world: users A (private), F follows A
E       assert not [Diff(rows=frozenset({UUID('00000000-0000-0000-0000-000000000005')}))]
E       Failing test case: test_world_properties(
E           world=,
E       )

suites/security/test_world_properties.py:34: AssertionError"""


def test_the_matrix_failure_keeps_the_cell_and_drops_the_repr() -> None:
    text = for_people(MATRIX)
    assert text.splitlines() == [
        "stranger select posts [visible] of a private owner: expected deny, got allow",
        "at suites/security/test_access_matrix.py:25"]


def test_a_hypothesis_failure_keeps_the_minimal_world_and_drops_the_empty_example() -> None:
    text = for_people(HYPOTHESIS)
    assert "minimal world: users A (private), F follows A" in text
    assert "world=," not in text and "Failing test case" not in text
    assert "frozenset" not in text and "UUID(" not in text and "assert not" not in text


def test_reprs_left_in_a_message_are_made_readable() -> None:
    assert readable("ids frozenset({UUID('00000000-0000-0000-0000-000000000005')})") == \
        "ids {00000000-0000-0000-0000-000000000005}"
    assert readable("Cell(table='posts', op=<Op.SELECT: 'select'>)") == "[table posts, op select]"
    assert readable("SOBERHARNESS_STATEMENT_TIMEOUT=2 and set()") == \
        "SOBERHARNESS_STATEMENT_TIMEOUT=2 and {}"


def test_a_bare_assert_keeps_its_expression() -> None:
    assert for_people("E       assert 5 < 4\n\nt.py:3: AssertionError") == "assert 5 < 4\nat t.py:3"

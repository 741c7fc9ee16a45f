"""The row statements written out as text (soberharness.db.sql, for speed) are byte for byte what
psycopg's composition renders, for every row of the matrix world, including values that need
quoting (a quote, a backslash, a NUL-free control character, non-ASCII text, JSON)."""

from __future__ import annotations

import dataclasses

from psycopg import sql

from soberharness.db import sql as rows
from soberharness.world.matrix_world import build_matrix_world


def _name(row: rows.Row) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(row.schema), sql.Identifier(row.table))


def _where(row: rows.Row) -> sql.Composed:
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(c), sql.Literal(row.values[c])) for c in row.key)


def _insert(row: rows.Row) -> sql.Composed:
    return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        _name(row), sql.SQL(", ").join(map(sql.Identifier, row.values)),
        sql.SQL(", ").join(sql.Literal(v) for v in row.values.values()))


def _update(before: rows.Row, after: rows.Row) -> sql.Composed:
    changed = {c: v for c, v in after.values.items() if before.values.get(c) != v}
    return sql.SQL("UPDATE {} SET {} WHERE {}").format(
        _name(before), sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Literal(v))
            for c, v in changed.items()), _where(before))


def _awkward(row: rows.Row) -> rows.Row:
    """The row with its text values made hard to quote."""
    values = {c: (v + "'; \\ \" é \t {}" if isinstance(v, str) else v)
              for c, v in row.values.items()}
    return dataclasses.replace(row, values=values)


def test_text_statements_equal_the_composed_ones() -> None:
    entities = list(build_matrix_world().world.entities())
    assert entities
    for entity in entities:
        for row in (rows.row_of(entity), _awkward(rows.row_of(entity))):
            assert rows.insert(row).as_bytes(None) == _insert(row).as_bytes(None)
            assert rows.delete(row).as_bytes(None) == sql.SQL("DELETE FROM {} WHERE {}").format(
                _name(row), _where(row)).as_bytes(None)
            assert rows.select_one(row).as_bytes(None) == sql.SQL(
                "SELECT 1 FROM {} WHERE {}").format(_name(row), _where(row)).as_bytes(None)
    row = rows.row_of(entities[0])
    changed = _awkward(row)
    if changed.values != row.values:
        assert rows.update(row, changed).as_bytes(None) == _update(row, changed).as_bytes(None)


def test_a_json_value_is_quoted_as_composition_quotes_it() -> None:
    row = rows.Row("public", 'we"ird', {"id": 1, "doc": '{"a": "it\'s"}', "n": None}, ("id",))
    assert rows.insert(row).as_bytes(None) == _insert(row).as_bytes(None)
    assert rows.insert(row).as_bytes(None).startswith(b'INSERT INTO "public"."we""ird"')

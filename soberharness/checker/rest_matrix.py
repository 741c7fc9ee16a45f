"""Judging the access matrix sent through PostgREST over HTTP (pure: no I/O).

Each sampled cell arrives as a `RestCellRecord`: what was sent, what PostgREST answered, what the
access model expects and what the SQL cell of the same case (the database run as PostgREST runs
it, `checker.matrix`) found. Three kinds of finding, each naming its cells:

- `rest_model_mismatch`: PostgREST allowed what the model denies, or refused what it allows;
- `rest_sql_disagree`: PostgREST and the SQL cell of the same case differ. Both run the same
  policies, so a difference means the HTTP path is not the SQL path (a filter dropped, a
  setting missing, a role not switched): the SQL matrix then proves nothing about the API;
- `rest_embed_mismatch`: a parent embedded in a returned row (`select=*,posts(*)`) is present
  where the model hides it, or absent where the model lets the caller read it.

Allowed-ness reads the answer as supabase-js hands it to an app: a read is allowed when exactly
the requested row comes back; an insert (or an upsert) when PostgREST answers 201 with
`count=exact` reporting one row (an upsert that met an existing row inserts none); an
update or delete when it answers 2xx with `count=exact` reporting one row.

An *entry refusal* is a cell PostgREST must refuse whatever the model says, because the request
can only succeed through another service: the Storage API's `storage.protect_delete` trigger
refuses every DELETE on `storage.objects`/`storage.buckets` unless the transaction sets
`storage.allow_delete_query` (which only the Storage API does). Such a cell expects a refusal;
its SQL cell (run as the Storage API runs it) is not compared.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from soberharness.records.results import Cell, CellResult, Op

MISMATCH = "rest_model_mismatch"
DISAGREE = "rest_sql_disagree"
EMBED = "rest_embed_mismatch"


@dataclasses.dataclass(frozen=True)
class RestOutcome:
    """What PostgREST answered, as a supabase-js caller sees it."""

    status: int
    form: str  # select, insert, upsert, update, delete
    rows: tuple[Mapping[str, Any], ...] | None = None  # a read's rows
    count: int | None = None  # Content-Range total (count=exact)
    error: str | None = None  # "code: message"


@dataclasses.dataclass(frozen=True)
class RestCellRecord:
    cell: Cell
    request: str  # "GET /posts?id=eq.…", for messages
    key: Mapping[str, str]  # the requested row's key columns (as text)
    expected: bool  # the access model's verdict
    outcome: RestOutcome
    sql_allowed: bool | None = None  # the SQL cell's verdict (None: not run)
    embeds: Mapping[str, bool] = dataclasses.field(default_factory=dict)  # name -> model reads it
    entry_refusal: str | None = None  # why PostgREST must refuse this cell, whatever the model


def allowed(outcome: RestOutcome, op: Op, key: Mapping[str, str]) -> bool:
    if outcome.error is not None or not 200 <= outcome.status < 300:
        return False
    match op:
        case Op.SELECT:
            rows = outcome.rows or ()
            return len(rows) == 1 and all(str(rows[0].get(c)) == v for c, v in key.items())
        case Op.INSERT:
            # 201 and one row: an upsert that met its row answers 201 (ignore) or 200 (merge)
            # with nothing inserted, where the SQL cell's INSERT fails on the key
            return outcome.status == 201 and outcome.count == 1
        case _:
            return outcome.count == 1


def detail(outcome: RestOutcome) -> str:
    if outcome.error is not None:
        return f"{outcome.status} {outcome.error}"
    if outcome.rows is not None:
        return f"{outcome.status}, {len(outcome.rows)} row(s) returned"
    return f"{outcome.status}, count {outcome.count if outcome.count is not None else '-'}"


@dataclasses.dataclass(frozen=True)
class Disagreement:
    cell: Cell
    request: str
    rest: bool
    sql: bool
    detail: str

    def message(self) -> str:
        return (f"{self.cell.label()}: PostgREST {'allowed' if self.rest else 'refused'} "
                f"({self.request} -> {self.detail}), the SQL cell "
                f"{'allowed' if self.sql else 'refused'}")


@dataclasses.dataclass(frozen=True)
class EmbedMismatch:
    cell: Cell
    request: str
    embed: str
    present: bool  # PostgREST returned the embedded parent

    def message(self) -> str:
        return (f"{self.cell.label()}: {self.request} embedded {self.embed} "
                f"{'present, the model hides it' if self.present else 'absent, the model lets the caller read it'}")  # noqa: E501


@dataclasses.dataclass
class RestRun:
    results: list[CellResult]  # REST against the model (entry refusals expect a refusal)
    disagreements: list[Disagreement]
    embed_mismatches: list[EmbedMismatch]
    requests: Mapping[Cell, str]
    compared_with_sql: int = 0
    seconds: float = 0.0
    not_sent: Mapping[str, str] = dataclasses.field(default_factory=dict)  # cell label -> why
    embeds_judged: int = 0  # embedded parents compared with the model

    @property
    def mismatches(self) -> list[CellResult]:
        return [r for r in self.results if not r.ok]

    def mismatch_lines(self) -> list[str]:
        return [
            f"{r.cell.label()}: model {'allows' if r.expected else 'denies'}, PostgREST "
            f"{'allowed' if r.actual else 'refused'} ({self.requests[r.cell]} -> {r.detail})"
            for r in self.mismatches
        ]

    def summary(self) -> dict[str, Any]:
        return {
            "cells": len(self.results),
            "compared_with_sql": self.compared_with_sql,
            "embeds_judged": self.embeds_judged,
            MISMATCH: self.mismatch_lines(),
            DISAGREE: [d.message() for d in self.disagreements],
            EMBED: [e.message() for e in self.embed_mismatches],
            "not_sent": dict(self.not_sent),
            "seconds": round(self.seconds, 2),
        }


def _embedded(outcome: RestOutcome, name: str) -> bool | None:
    rows = outcome.rows or ()
    if len(rows) != 1 or name not in rows[0]:
        return None
    return rows[0][name] is not None


def judge(records: Iterable[RestCellRecord], seconds: float = 0.0,
          not_sent: Mapping[str, str] | None = None) -> RestRun:
    results: list[CellResult] = []
    disagreements: list[Disagreement] = []
    embeds: list[EmbedMismatch] = []
    requests: dict[Cell, str] = {}
    compared = judged = 0
    for rec in records:
        requests[rec.cell] = rec.request
        actual = allowed(rec.outcome, rec.cell.op, rec.key)
        expected = rec.expected and rec.entry_refusal is None
        why = detail(rec.outcome)
        if rec.entry_refusal is not None:
            why += f"; PostgREST must refuse: {rec.entry_refusal}"
        results.append(CellResult(rec.cell, expected, actual, why))
        if rec.sql_allowed is not None and rec.entry_refusal is None:
            compared += 1
            if rec.sql_allowed != actual:
                disagreements.append(
                    Disagreement(rec.cell, rec.request, actual, rec.sql_allowed, why))
        if actual and rec.cell.op is Op.SELECT:
            for name, readable in sorted(rec.embeds.items()):
                present = _embedded(rec.outcome, name)
                judged += present is not None
                if present is not None and present != readable:
                    embeds.append(EmbedMismatch(rec.cell, rec.request, name, present))
    return RestRun(results, disagreements, embeds, requests, compared, seconds,
                   dict(not_sent or {}), judged)


def cells_of(run: RestRun, kind: str) -> set[Cell]:
    """The cells a kind of finding names (for reports and selftests)."""
    if kind == MISMATCH:
        return {r.cell for r in run.mismatches}
    if kind == DISAGREE:
        return {d.cell for d in run.disagreements}
    if kind == EMBED:
        return {e.cell for e in run.embed_mismatches}
    raise ValueError(f"unknown finding kind {kind!r}")


def slices(records: Sequence[RestCellRecord]) -> set[tuple[str, str, str, str]]:
    """(table, op, actor, privacy) of the records: what a sample covers."""
    return {(r.cell.table, r.cell.op.value, r.cell.actor, r.cell.privacy) for r in records}

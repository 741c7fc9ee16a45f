"""The ledger checker's classification on hand-made ledgers (no database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soberharness.chaos.checker import (
    ACK_PRESENT,
    DUPLICATED,
    FAILED_ABSENT,
    FAILED_PRESENT,
    LOST,
    PHANTOM,
    UNKNOWN_ABSENT,
    UNKNOWN_PRESENT,
    classify,
)
from soberharness.chaos.ledger import Ledger, Outcome, Write, body_of
from soberharness.chaos.summary import write_index, write_run

AUTHOR = "00000000-0000-0000-0000-000000000001"


def w(write_id: str, outcome: Outcome, seq: int = 1) -> Write:
    return Write(write_id, 0, seq, AUTHOR, outcome, 1.0, 2.0)


ACK, FAILED, UNKNOWN = Outcome.ACKNOWLEDGED, Outcome.FAILED, Outcome.UNKNOWN


def test_a_clean_history_has_every_class_and_no_violation() -> None:
    writes = [w("a1", ACK), w("a2", ACK), w("f1", FAILED), w("u1", UNKNOWN), w("u2", UNKNOWN)]
    result = classify(writes, [body_of("a1"), body_of("a2"), body_of("u1")])
    assert result.ok
    assert result.classes == {ACK_PRESENT: 2, FAILED_ABSENT: 1, UNKNOWN_PRESENT: 1,
                              UNKNOWN_ABSENT: 1}
    assert result.outcomes == {"acknowledged": 2, "failed": 1, "unknown": 2}
    assert result.rows_read == 3


def test_a_missing_acknowledged_write_is_lost() -> None:
    result = classify([w("a1", ACK), w("a2", ACK)], [body_of("a1")])
    assert not result.ok
    assert result.lost == ["a2"]
    assert result.violations[LOST] == ["a2"]
    assert "lost_acknowledged=1" in result.one_line()


def test_an_acknowledged_write_present_twice_is_duplicated_not_fine() -> None:
    result = classify([w("a1", ACK)], [body_of("a1"), body_of("a1")])
    assert result.violations[DUPLICATED] == ["a1"]
    assert result.classes[ACK_PRESENT] == 0
    assert not result.ok


def test_an_unknown_write_may_be_present_once_but_not_twice() -> None:
    once = classify([w("u1", UNKNOWN)], [body_of("u1")])
    twice = classify([w("u1", UNKNOWN)], [body_of("u1")] * 2)
    assert once.ok and once.classes[UNKNOWN_PRESENT] == 1
    assert twice.violations[DUPLICATED] == ["u1"]


def test_a_failed_write_that_took_effect_is_a_violation() -> None:
    result = classify([w("f1", FAILED)], [body_of("f1")])
    assert result.violations[FAILED_PRESENT] == ["f1"]
    assert not result.ok


def test_a_row_nobody_wrote_is_a_phantom() -> None:
    result = classify([w("a1", ACK)], [body_of("a1"), body_of("zz"), "some other post"])
    assert result.violations[PHANTOM] == sorted([body_of("zz"), "some other post"])
    assert result.classes[ACK_PRESENT] == 1
    assert not result.ok


def test_an_empty_ledger_with_no_rows_holds() -> None:
    result = classify([], [])
    assert result.ok and result.writes == 0


def test_a_ledger_holding_one_id_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        classify([w("a1", ACK), w("a1", FAILED, seq=2)], [])


def test_violations_are_reported_per_class_with_ids() -> None:
    writes = [w("a1", ACK), w("a2", ACK), w("f1", FAILED), w("u1", UNKNOWN)]
    result = classify(writes, [body_of("a2"), body_of("a2"), body_of("f1"), body_of("x")])
    report = result.to_json()
    assert report["violation_counts"] == {LOST: 1, DUPLICATED: 1, FAILED_PRESENT: 1, PHANTOM: 1}
    assert report["violations"][LOST] == ["a1"]
    assert report["ok"] is False


def test_the_ledger_survives_a_round_trip_through_its_file(tmp_path: Path) -> None:
    ledger = Ledger([w("a1", ACK), Write("f1", 2, 7, AUTHOR, FAILED, 1.5, 1.7, "08006: gone")])
    ledger.save(tmp_path / "ledger.jsonl")
    again = Ledger.load(tmp_path / "ledger.jsonl")
    assert again.writes == ledger.writes
    assert again.counts() == {"acknowledged": 1, "failed": 1, "unknown": 0}


def test_the_summary_table_shows_lost_writes(tmp_path: Path) -> None:
    result = classify([w("a1", ACK), w("a2", ACK)], [body_of("a1")])
    write_run("lossy demo", {"config": "lossy"}, [], [result], status="deviated", folder=tmp_path)
    summary = json.loads((tmp_path / "lossy-demo" / "summary.json").read_text())
    assert summary["ledger"]["violation_counts"][LOST] == 1
    table = write_index(tmp_path).read_text()
    row = next(line for line in table.splitlines() if line.startswith("| lossy demo"))
    assert "| deviated | lossy |" in row
    assert row.rstrip(" |").endswith("| 1 | 0")  # lost ack 1, other violations 0


def test_outcomes_are_counted_by_when_they_came_in() -> None:
    ledger = Ledger([
        Write("a", 0, 1, AUTHOR, ACK, 0.0, 1.0),
        Write("b", 0, 2, AUTHOR, FAILED, 1.0, 2.5),
        Write("c", 1, 1, AUTHOR, UNKNOWN, 1.0, 3.0),
        Write("d", 1, 2, AUTHOR, ACK, 3.0, 4.0),
    ])
    assert ledger.counts_between(2.0, 3.0) == {"acknowledged": 0, "failed": 1, "unknown": 1}
    assert ledger.counts_between(0.0, 10.0) == ledger.counts()

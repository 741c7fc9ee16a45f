"""The drills' judges on hand-made inputs: the ledger cut at a restore point, the verify
report, the split-brain verdict, the matrix digest. Planted defects each reported."""

from __future__ import annotations

import dataclasses

import pytest

from soberharness.chaos.checker import FAILED_PRESENT, LOST
from soberharness.chaos.ledger import Outcome, Write
from soberharness.dr.cluster import SplitBrainVerdict, WriteProbe
from soberharness.dr.judge import classify_at_cut
from soberharness.dr.matrix_digest import digest
from soberharness.dr.pitr import verify_clean
from soberharness.records.results import Cell, CellResult, Op

# Checks of the repository's own files and judges: nothing about the target (report.verdict).
pytestmark = pytest.mark.target_independent

T0, T1 = 100.0, 100.2  # the restore point's statement: sent at T0, answered at T1


def _write(n: int, started: float, finished: float,
           outcome: Outcome = Outcome.ACKNOWLEDGED) -> Write:
    return Write(f"w{n}", 0, n, "author", outcome, started, finished)


WRITES = [
    _write(1, 90.0, 90.1),  # acknowledged before T: must be restored
    _write(2, 99.0, 99.5),  # acknowledged before T: must be restored
    _write(3, 99.9, 100.1),  # across T: either side
    _write(4, 100.5, 100.6),  # begun after T: must not be restored
    _write(5, 95.0, 95.1, Outcome.FAILED),  # failed before T: must not be there
]


def test_exact_restore_holds() -> None:
    result = classify_at_cut(WRITES, ["ledger:w1", "ledger:w2", "ledger:w3"], T0, T1)
    assert result.ok, result.check.violations
    assert (result.before, result.after, result.across) == (2, 1, 1)
    assert result.rpo_seconds == 0.0
    assert round(result.newest_kept_gap_seconds or 0, 3) == 0.5


def test_planted_missing_write_before_the_target_is_lost_with_its_window() -> None:
    result = classify_at_cut(WRITES, ["ledger:w2"], T0, T1)
    assert result.check.violations[LOST] == ["w1"]
    assert round(result.rpo_seconds, 3) == 9.9  # T0 - w1's acknowledgement


def test_planted_write_after_the_target_restored_is_reported() -> None:
    result = classify_at_cut(WRITES, ["ledger:w1", "ledger:w2", "ledger:w4"], T0, T1)
    assert result.check.violations[FAILED_PRESENT] == ["w4"]
    assert not result.ok


def test_failed_write_present_is_reported() -> None:
    result = classify_at_cut(WRITES, ["ledger:w1", "ledger:w2", "ledger:w5"], T0, T1)
    assert result.check.violations[FAILED_PRESENT] == ["w5"]


def test_verify_report_with_an_invalid_file_is_not_clean() -> None:
    ok = "stanza: sobertube\n    status: ok\n"
    bad = ("stanza: sobertube\n    status: error\n      backup: 20261201-205941F, status: "
           "invalid\n        checksum invalid: 1\n")
    assert verify_clean(0, ok)
    assert not verify_clean(0, bad)  # pgBackRest exits 0 here: the report decides
    assert not verify_clean(1, ok)


def test_split_brain_needs_two_writers() -> None:
    one = SplitBrainVerdict([WriteProbe("new", 1, True, "accepted"),
                             WriteProbe("old", 2, False, "refused 25006")])
    two = SplitBrainVerdict([WriteProbe("new", 1, True, "accepted"),
                             WriteProbe("old", 2, True, "accepted")])
    assert not one.split_brain and one.writable == ["new"]
    assert two.split_brain and two.writable == ["new", "old"]
    assert two.one_line().startswith("SPLIT BRAIN: 2 servers")


def test_digest_changes_with_one_verdict() -> None:
    cell = Cell("posts", Op.SELECT, "anon", "public", "row")
    results = [CellResult(cell, True, True, "1 row(s) returned"),
               CellResult(dataclasses.replace(cell, actor="self"), True, True, "")]
    flipped = [results[0], dataclasses.replace(results[1], actual=False)]
    assert digest(results) == digest(list(reversed(results)))
    assert digest(results) != digest(flipped)

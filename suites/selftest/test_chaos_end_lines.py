"""`chaos run` ends by printing the recovery time per fault (RTO), the acknowledged writes lost
(RPO) and the ledger's counts (issue 22, item 18), from the run's summary: a planted loss of
two acknowledged writes shows as RPO 2 and a lost_acknowledged violation."""

from __future__ import annotations

import json
import logging
import types
from pathlib import Path

import pytest

from soberharness.chaos import actions, control, summary
from soberharness.chaos.checker import classify
from soberharness.chaos.ledger import Ledger, Outcome, Write


def _ledger() -> Ledger:
    ledger = Ledger()
    for seq, outcome in enumerate([Outcome.ACKNOWLEDGED] * 4 + [Outcome.FAILED, Outcome.UNKNOWN]):
        ledger.record(Write(f"w{seq}", 0, seq, "author", outcome, 100.0 + seq, 100.5 + seq))
    return ledger


FAULT = {"fault": "postgres-sigkill", "heal_seconds": 0.4, "recovery_seconds": 1.25}


def test_the_end_lines_give_rto_rpo_and_the_ledger_counts(tmp_path: Path) -> None:
    ledger = _ledger()
    kept = [w.body for w in ledger.writes  # two acknowledged writes lost
            if w.outcome is not Outcome.FAILED and w.id not in ("w1", "w3")]
    out = summary.write_run("kill", None, [FAULT], [classify(ledger.writes, kept)], ledger,
                            folder=tmp_path)
    lines = summary.end_lines(json.loads((out / "summary.json").read_text()))
    assert lines == [
        "RTO postgres-sigkill: 1.650 s (heal 0.400 s + recovery 1.250 s)",
        "RPO: 2 acknowledged write(s) lost, acknowledged within 2.000 s",
        "ledger: 6 writes, acknowledged 4, failed 1, unknown 1; violations: lost_acknowledged 2",
    ]


def test_nothing_lost_is_rpo_zero_and_no_violation(tmp_path: Path) -> None:
    ledger = _ledger()
    kept = [w.body for w in ledger.writes if w.outcome is Outcome.ACKNOWLEDGED]
    out = summary.write_run("clean", None, [FAULT], [classify(ledger.writes, kept)], ledger,
                            folder=tmp_path)
    lines = summary.end_lines(json.loads((out / "summary.json").read_text()))
    assert lines[1] == "RPO: 0 acknowledged write(s) lost"
    assert lines[2].endswith("violations: none")


def test_the_control_logs_them_at_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         caplog: pytest.LogCaptureFixture) -> None:
    ledger = _ledger()
    check = classify(ledger.writes, [w.body for w in ledger.writes
                                     if w.outcome is Outcome.ACKNOWLEDGED and w.id != "w0"])
    monkeypatch.setattr(summary, "REPORTS", tmp_path)
    monkeypatch.setattr(actions, "RUN", types.SimpleNamespace(
        stack=None, records=[FAULT], checks=[check], ledger=ledger))
    for name in ("heal_all", "stop_ledger", "stop_local_stack"):
        monkeypatch.setattr(actions, name, lambda: None)
    with caplog.at_level(logging.INFO, logger="chaostoolkit"):
        control.after_experiment_control({"title": "kill"}, {"status": "completed"})
    logged = [r.getMessage() for r in caplog.records]
    assert "RTO postgres-sigkill: 1.650 s (heal 0.400 s + recovery 1.250 s)" in logged
    assert "RPO: 1 acknowledged write(s) lost" in logged
    assert any(m.startswith("ledger: 6 writes") for m in logged)

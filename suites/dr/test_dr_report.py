"""RPO and RTO reach the run report: a drill's chaos summary with its `dr` results becomes a
row of the run page's Disaster recovery section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soberharness.report.dr_section import section
from soberharness.report.run_facts import chaos_failed
from soberharness.report.run_folder import chaos_from_this_run

# Checks of the repository's own files and judges: nothing about the target (report.verdict).
pytestmark = pytest.mark.target_independent


def _summary(folder: Path, name: str, config: str, dr: dict) -> None:
    (folder / name).mkdir(parents=True)
    (folder / name / "summary.json").write_text(json.dumps({
        "experiment": name, "status": "completed", "stack": {"config": config},
        "faults": [], "ledger": {"ok": config == "clean"}, "dr": dr}))


def test_drill_figures_reach_the_run_page(tmp_path: Path) -> None:
    _summary(tmp_path, "pitr", "clean", {
        "drill": "pitr", "figures": {"rpo_seconds": 0.0, "rto_seconds": 4.25,
                                     "backup_bytes": 40960, "lost_acknowledged": 0},
        "matrix": {"equal": True}, "verify_clean": True,
        "planted_corruption": {"detected": True}})
    _summary(tmp_path, "async", "async-replication", {
        "drill": "failover-async", "figures": {"rpo_seconds": 1.015, "rto_seconds": 0.96,
                                               "lost_acknowledged": 425},
        "split_brain": {"split_brain": True, "writable": ["new_primary", "old_primary"]}})
    chaos = chaos_from_this_run(tmp_path, since=0.0)
    assert [c["dr"]["drill"] for c in chaos] == ["pitr", "failover-async"]
    # the asynchronous drill's loss is a negative control, not a failed run
    assert not any(chaos_failed(c) for c in chaos)
    page = "\n".join(section(chaos))
    assert "<th class='l'>RPO s</th><th class='l'>RTO s</th>" in page
    assert "<td class='l'>4.250</td>" in page and "<td class='l'>40 KiB</td>" in page
    assert "<td class='l'>1.015</td>" in page and "<td class='l'>425</td>" in page
    assert "SPLIT BRAIN: new_primary, old_primary" in page
    assert "planted corruption caught" in page


def test_no_drill_says_so() -> None:
    assert "No disaster-recovery drill" in "\n".join(section([{"experiment": "x"}]))

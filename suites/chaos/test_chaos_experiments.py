"""The chaostoolkit experiments under chaos/: valid, and runnable with `chaos run`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from chaoslib.experiment import ensure_experiment_is_valid

from soberharness.chaos import summary
from soberharness.chaos.child import run_chaos
from soberharness.chaos.disk import missing_reason as disk_missing_reason
from soberharness.chaos.ledger import Ledger
from soberharness.chaos.progress_file import ENV as PROGRESS_ENV
from soberharness.chaos.progress_file import Follower
from soberharness.pytest_plugin import live_progress
from soberharness.targets.migrations import REPO
from soberharness.targets.services.tools import find_tool, missing_reason

EXPERIMENTS = sorted((REPO / "chaos").glob("*.json"))
CHAOS = Path(sys.executable).parent / "chaos"


@pytest.mark.target_independent
def test_every_experiment_is_run_by_this_suite() -> None:
    assert {p.name for p in EXPERIMENTS} == set(EXPECT_DEVIATION)


@pytest.mark.target_independent
@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_is_valid_and_checks_the_ledger(path: Path) -> None:
    experiment = json.loads(path.read_text())
    ensure_experiment_is_valid(experiment)
    probes = [p["provider"].get("func") for p in experiment["steady-state-hypothesis"]["probes"]]
    assert {"postgres_healthy", "read_your_write", "rls_sample_holds", "ledger_ok"} <= set(probes)
    assert experiment["rollbacks"], "an experiment must heal what it injected"
    modules = [c["provider"]["module"] for c in experiment.get("controls", [])]
    assert "soberharness.chaos.control" in modules


def _chaos_run(path: Path, tmp_path: Path,
               config: pytest.Config) -> tuple[subprocess.CompletedProcess[str], dict]:
    """`chaos run` as a person would, its reports in a folder of this test's own (a run going
    on elsewhere cannot touch them); copied under reports/chaos/ afterwards. While it runs, a
    live line tells the method's activities (faults, heals) done of all."""
    journal = tmp_path / "journal.json"
    told = tmp_path / "progress.tsv"
    env = dict(os.environ, SOBERHARNESS_CHAOS_REPORTS=str(tmp_path / "reports"),
               **{PROGRESS_ENV: str(told)})
    with live_progress(config, f"chaos {path.stem}", "activities") as progress:
        follower = None if progress is None else Follower(told, progress)
        proc = run_chaos(  # goes with the harness, also when it is SIGKILLed
            [str(CHAOS), "--no-log-file", "run", "--journal-path", str(journal), str(path)],
            timeout=180, env=env, cwd=tmp_path,
            tick=None if follower is None else follower.poll)
        if follower is not None:
            follower.poll()
    folder = _report_folder(path, tmp_path)
    if folder.exists():
        shutil.copytree(folder, summary.REPORTS / folder.name, dirs_exist_ok=True)
        summary.write_index(summary.REPORTS)
    assert journal.exists(), f"chaos run wrote no journal: {proc.stderr[-2000:]}"
    return proc, json.loads(journal.read_text())


def _report_folder(path: Path, tmp_path: Path) -> Path:
    return tmp_path / "reports" / summary.slug(json.loads(path.read_text())["title"])


def _summary(path: Path, tmp_path: Path) -> dict:
    written = _report_folder(path, tmp_path) / "summary.json"
    assert written.exists(), f"chaos run wrote no {written}"
    assert (written.parent / "journal.json").exists()
    assert (written.parent / "ledger.jsonl").exists()
    return json.loads(written.read_text())


def _activities(journal: dict) -> str:
    """What each activity of the run returned or raised, for a failure message."""
    lines = [f"status={journal.get('status')} deviated={journal.get('deviated')}"]
    for run in journal.get("run", []):
        activity = run.get("activity", {}).get("name")
        lines.append(f"{activity}: {run.get('status')} {str(run.get('output'))[:300]} "
                     f"{str(run.get('exception') or '')[-300:]}")
    return "\n".join(lines)


# experiment file -> must its steady state deviate? (the lossy one must: that is its point)
EXPECT_DEVIATION = {
    "postgres-sigkill.json": False,
    "postgres-sigstop.json": False,
    "network-faults.json": False,
    "disk-full.json": False,
    "lossy-async-commit.json": True,
}
FAULTS = {
    "postgres-sigkill.json": ["postgres-sigkill"],
    "postgres-sigstop.json": ["postgres-sigstop"],
    "network-faults.json": ["toxiproxy-latency-jitter", "toxiproxy-bandwidth",
                            "toxiproxy-reset-peer", "toxiproxy-partition"],
    "disk-full.json": ["disk-full"],
}
# Faults that must break some writes while in force (latency and bandwidth may only slow them).
DISRUPTIVE = {"postgres-sigkill", "postgres-sigstop", "toxiproxy-reset-peer",
              "toxiproxy-partition", "disk-full"}
DISK_FULL = "53100"  # SQLSTATE disk_full


@pytest.mark.destructive
@pytest.mark.needs("postgres")
@pytest.mark.parametrize("name", list(EXPECT_DEVIATION), ids=lambda n: n.removesuffix(".json"))
def test_chaos_run(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """`chaos run` on each experiment: the clean ones hold, the lossy one is caught losing."""
    path = REPO / "chaos" / name
    wants = json.loads(path.read_text())["controls"][0]["provider"]["arguments"]
    if wants.get("toxiproxy") and find_tool("toxiproxy") is None:
        pytest.skip(missing_reason("toxiproxy"))
    if wants.get("small_disk") and disk_missing_reason():
        pytest.skip(str(disk_missing_reason()))
    proc, journal = _chaos_run(path, tmp_path, request.config)
    written = _summary(path, tmp_path)
    lost = written["ledger"]["violation_counts"]["lost_acknowledged"]
    if EXPECT_DEVIATION[name]:
        assert journal["deviated"] is True, _activities(journal)
        assert written["status"] == "deviated"
        assert lost > 0, "the lossy configuration lost nothing the ledger could see"
        return
    assert journal["status"] == "completed" and not journal["deviated"], _activities(journal)
    assert proc.returncode == 0
    assert written["ledger"]["ok"] is True and lost == 0
    assert written["ledger"]["outcomes"]["acknowledged"] > 0
    assert [f["fault"] for f in written["faults"]] == FAULTS[name]
    for fault in written["faults"]:
        assert fault["recovery_seconds"] is not None, f"no recovery measured for {fault}"
        if fault["fault"] in DISRUPTIVE:
            during = fault["during"]
            assert during["failed"] + during["unknown"] > 0, (
                f"{fault['fault']} broke no client's write while in force: was it injected?"
            )
    if name == "disk-full.json":
        ledger = Ledger.load(_report_folder(path, tmp_path) / "ledger.jsonl")
        assert any((w.error or "").startswith(DISK_FULL) for w in ledger.writes), (
            "no write was refused for lack of space"
        )
    assert (tmp_path / "reports" / "summary.md").exists()

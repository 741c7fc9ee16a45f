"""The drills, each run as its chaostoolkit experiment, judged by the write ledger."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from chaoslib.experiment import ensure_experiment_is_valid

from soberharness.dr.experiments import EXPERIMENTS, NEEDS, ExperimentRun

Drill = Callable[[str], ExperimentRun]
PITR = "pitr-restore-to-a-time.json"
SYNC = "failover-synchronous.json"
ASYNC = "failover-async-lossy.json"
CHAOS_PROBES = {"postgres_healthy", "read_your_write", "rls_sample_holds", "ledger_ok"}


@pytest.mark.target_independent
def test_every_drill_experiment_is_run_by_this_suite() -> None:
    assert {p.name for p in EXPERIMENTS.glob("*.json")} == set(NEEDS) == {PITR, SYNC, ASYNC}


@pytest.mark.target_independent
@pytest.mark.parametrize("name", sorted(NEEDS))
def test_experiment_is_valid_with_the_chaos_steady_state(name: str) -> None:
    experiment = json.loads((EXPERIMENTS / name).read_text())
    ensure_experiment_is_valid(experiment)
    probes = {p["provider"]["func"] for p in experiment["steady-state-hypothesis"]["probes"]}
    assert CHAOS_PROBES | {"drill_verdict_holds"} <= probes
    assert experiment["rollbacks"]
    assert experiment["controls"][0]["provider"]["module"] == "soberharness.dr.control"


# -- point-in-time restore ----------------------------------------------------------------------
@pytest.mark.destructive
@pytest.mark.dr_experiment(PITR)
@pytest.mark.needs("postgres")
def test_pitr_restores_exactly_the_writes_before_the_target(drill: Drill) -> None:
    run = drill(PITR)
    assert run.journal["status"] == "completed" and not run.journal["deviated"], run.activities()
    assert run.returncode == 0
    cut = run.dr["cut"]
    ledger = cut["ledger"]
    assert cut["ok"], ledger["violations"]
    assert ledger["violation_counts"] == {"lost_acknowledged": 0, "duplicated": 0,
                                          "failed_present": 0, "phantom": 0}
    # the cut has writes on both sides: some restored, some (begun after T) left out
    assert cut["acknowledged_before_target"] > 0
    assert cut["begun_after_target"] > 0
    assert run.dr["figures"]["lost_acknowledged"] == 0
    assert run.dr["figures"]["rpo_seconds"] == 0


@pytest.mark.destructive
@pytest.mark.dr_experiment(PITR)
@pytest.mark.needs("postgres")
def test_pitr_restored_server_gives_the_same_matrix_verdicts(drill: Drill) -> None:
    matrix = drill(PITR).dr["matrix"]
    assert matrix["cells"] > 1000
    assert matrix["digest_restored"] == matrix["digest_original"]


@pytest.mark.destructive
@pytest.mark.dr_experiment(PITR)
@pytest.mark.needs("postgres")
def test_pitr_planted_loss_of_rls_changes_the_digest(drill: Drill) -> None:
    """Planted on the restored copy: RLS off on posts. The digest differs, in posts cells only."""
    planted = drill(PITR).dr["planted_rls_defect"]
    assert planted["detected"] is True
    assert planted["cells_differing"] > 0 and planted["tables"] == ["posts"], planted


@pytest.mark.destructive
@pytest.mark.dr_experiment(PITR)
@pytest.mark.needs("postgres")
def test_pitr_repository_is_encrypted_checked_and_verified(drill: Drill) -> None:
    run = drill(PITR)
    settings = run.summary["stack"]["settings"]
    assert settings["archive_mode"] == "on"
    commands = [s["command"] for s in run.dr["steps"]]
    assert any(c.endswith(" check") for c in commands)
    assert run.dr["repository"] == {"cipher": "aes-256-cbc", "retention_full": 2}
    assert run.dr["verify_clean"] is True, run.dr["verify_output"]
    figures = run.dr["figures"]
    assert figures["backup_bytes"] > figures["backup_repo_bytes"] > 0
    assert figures["backup_seconds"] > 0 and figures["rto_seconds"] > 0


@pytest.mark.destructive
@pytest.mark.dr_experiment(PITR)
@pytest.mark.needs("postgres")
def test_pitr_planted_corrupted_backup_file_is_detected(drill: Drill) -> None:
    planted = drill(PITR).dr["planted_corruption"]
    assert planted["detected"] is True, planted["verify_output"]
    assert planted["names_file"] is True, planted["verify_output"]
    assert "checksum invalid" in planted["verify_output"] or "invalid" in planted["verify_output"]


# -- failover ---------------------------------------------------------------------------------
@pytest.mark.destructive
@pytest.mark.dr_experiment(SYNC)
@pytest.mark.needs("postgres")
def test_synchronous_failover_loses_no_acknowledged_write(drill: Drill) -> None:
    run = drill(SYNC)
    assert run.journal["status"] == "completed" and not run.journal["deviated"], run.activities()
    dr = run.dr
    assert dr["ledger"]["ok"], dr["ledger"]["violations"]
    assert dr["figures"]["lost_acknowledged"] == 0
    assert dr["ledger"]["outcomes"]["acknowledged"] > 0
    lag = {s["name"]: s for s in dr["lag_before_kill"]}
    assert set(lag) == {"s1", "s2"} and {s["sync_state"] for s in lag.values()} == {"quorum"}
    # s1 was made to lag: promoting it would have lost writes; the drill chose s2
    assert lag["s1"]["lag_bytes"] > lag["s2"]["lag_bytes"]
    assert dr["promoted"] == "s2"
    assert dr["figures"]["rto_seconds"] is not None and dr["figures"]["promote_seconds"] > 0
    if dr["matrix"] is not None:  # deep runs compare the full access matrix too
        assert dr["matrix"]["equal"] is True


@pytest.mark.destructive
@pytest.mark.dr_experiment(SYNC)
@pytest.mark.needs("postgres")
def test_synchronous_failover_old_primary_is_rewound_and_refuses_writes(drill: Drill) -> None:
    dr = drill(SYNC).dr
    assert dr["old_primary"] == "rewound"
    verdict = dr["split_brain"]
    assert verdict["split_brain"] is False and verdict["writable"] == ["new_primary"]
    old = next(p for p in verdict["probes"] if p["name"] == "old_primary")
    assert old["accepts_writes"] is False and "25006" in old["detail"]


@pytest.mark.destructive
@pytest.mark.dr_experiment(ASYNC)
@pytest.mark.needs("postgres")
def test_async_failover_negative_control_shows_the_loss(drill: Drill) -> None:
    run = drill(ASYNC)
    assert run.journal["deviated"] is True, run.activities()
    assert run.summary["status"] == "deviated"
    assert run.summary["stack"]["config"] == "async-replication"  # a negative control
    dr = run.dr
    assert dr["figures"]["lost_acknowledged"] > 0, "a lagging async standby lost nothing?"
    assert dr["ledger"]["violation_counts"]["lost_acknowledged"] == dr["figures"][
        "lost_acknowledged"]
    assert dr["figures"]["rpo_seconds"] > 0
    assert dr["lag_before_kill"][0]["lag_bytes"] > 0


@pytest.mark.destructive
@pytest.mark.dr_experiment(ASYNC)
@pytest.mark.needs("postgres")
def test_planted_split_brain_is_reported(drill: Drill) -> None:
    dr = drill(ASYNC).dr
    assert dr["old_primary"] == "unsafe"
    assert dr["split_brain"]["split_brain"] is True
    assert sorted(dr["split_brain"]["writable"]) == ["new_primary", "old_primary"]

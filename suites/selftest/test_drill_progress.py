"""Live progress of the drills: the runbook step loop tells its Progress each step as it begins
(distinct steps done of the total, the step as the note) and a last `done`; the `chaos run`
child's calls reach the harness's Progress through the progress file, merged when several
drills run at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from soberharness.chaos import control
from soberharness.chaos.child import run_chaos
from soberharness.chaos.progress_file import (
    ENV,
    Follower,
    Merged,
    ProgressFile,
    parse,
    progress_from_env,
)
from soberharness.dr.experiments import NEEDS
from soberharness.dr.regions import REGION_PHASES
from soberharness.dr.steps import Phases, Step, StepLog
from soberharness.dr.tools import missing
from soberharness.errors import HarnessError
from soberharness.records.progress import Progress

Call = tuple[int, int | None, str]


def _recorder() -> tuple[list[Call], Progress]:
    calls: list[Call] = []

    def progress(done: int, total: int | None, note: str = "") -> None:
        calls.append((done, total, note))
    return calls, progress


STEPS = [Step("Write the marker", "true {marker}"), Step("Wait for it", "true"),
         Step("Start the copy", "copy {marker}"), Step("Check the copy", "true")]


def test_step_loop_tells_each_step_as_it_begins_and_the_end() -> None:
    calls, progress = _recorder()
    log = StepLog({"marker": "m"}, progress, len(STEPS))
    log.run(STEPS[0], as_server=False)
    for _ in range(3):  # a step repeated while waiting counts once
        log.run(STEPS[1], as_server=False)
    log.perform(STEPS[2], lambda: None)
    log.tell("judging")
    log.run(STEPS[3], as_server=False)
    log.finish()
    assert calls == [
        (0, 4, "write the marker"),
        (1, 4, "wait for it"), (2, 4, "wait for it"), (2, 4, "wait for it"),
        (2, 4, "start the copy"),
        (3, 4, "judging"),
        (3, 4, "check the copy"),
        (4, 4, "done"),
    ]


def test_a_failed_step_is_told_before_it_fails() -> None:
    calls, progress = _recorder()
    log = StepLog({}, progress, 2)
    with pytest.raises(HarnessError, match="runbook step 'Fail'"):
        log.run(Step("Fail", "false"), as_server=False)
    assert calls == [(0, 2, "fail")]


def test_without_a_progress_nothing_is_told() -> None:
    log = StepLog({})
    log.run(Step("Fine", "true"), as_server=False)
    log.finish()
    assert [r.returncode for r in log.records] == [0]


def test_phases_are_told_in_order_as_done_before_of_all() -> None:
    calls, progress = _recorder()
    phase = Phases(("load", "restore", "judge"), progress)
    phase.begin("load")
    phase.begin("restore")
    phase.begin("judge")
    phase.finish()
    assert calls == [(0, 3, "load"), (1, 3, "restore"), (2, 3, "judge"), (3, 3, "done")]
    with pytest.raises(HarnessError, match="drill phase 'restoring' is not one of"):
        phase.begin("restoring")
    Phases(("load",)).begin("load")  # without a Progress: nothing told, nothing raised


def test_the_lost_region_drill_names_phases_it_begins() -> None:
    """Every phase the drill begins is one of REGION_PHASES, each begun once, in their order
    (read from its source: the drill itself needs pgBackRest and is run by suites/dr)."""
    import inspect

    from soberharness.dr import regions
    source = inspect.getsource(regions.run_region_drill)
    begun = [line.split('phase.begin("')[1].split('")')[0]
             for line in source.splitlines() if 'phase.begin("' in line]
    assert begun == list(REGION_PHASES)


def test_the_file_carries_the_calls_and_the_follower_reads_only_complete_lines(
        tmp_path: Path) -> None:
    path = tmp_path / "progress.tsv"
    calls, progress = _recorder()
    follower = Follower(path, progress)
    follower.poll()  # not written yet
    writer = ProgressFile(path)
    writer(0, 6, "create the stanza")
    writer(3, None, "restore\tto the\ntime")
    with path.open("a") as out:
        out.write("not a call\n4\t6\thalf a li")
    follower.poll()
    assert calls == [(0, 6, "create the stanza"), (3, None, "restore to the time")]
    with path.open("a") as out:
        out.write("ne\n")
    follower.poll()
    follower.poll()
    assert calls[2:] == [(4, 6, "half a line")]
    assert parse("x\t\t") is None and parse("1\t2") is None


def test_progress_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert progress_from_env() is None
    monkeypatch.setenv(ENV, str(tmp_path / "p.tsv"))
    told = progress_from_env()
    assert told is not None
    told(1, 2, "x")
    assert (tmp_path / "p.tsv").read_text() == "1\t2\tx\n"


def test_merged_sums_the_drills_and_names_each_note() -> None:
    calls, sink = _recorder()
    merged = Merged(sink)
    pitr, sync = merged.part("pitr"), merged.part("failover")
    pitr(0, 10, "create the stanza")
    assert calls[-1] == (0, 10, "create the stanza")
    sync(2, 7, "promote it")
    assert calls[-1] == (2, 17, "failover: promote it; pitr: create the stanza")
    pitr(4, 10, "restoring")
    assert calls[-1] == (6, 17, "failover: promote it; pitr: restoring")
    merged.part("lost")(1, None, "")
    assert calls[-1] == (7, None, "failover: promote it; pitr: restoring")


def test_run_chaos_ticks_while_the_child_runs_so_its_progress_is_followed(
        tmp_path: Path) -> None:
    """A child writing its steps a little apart: the harness's Progress hears them while it
    runs (before the last is written), not only at the end."""
    path = tmp_path / "progress.tsv"
    calls, progress = _recorder()
    follower = Follower(path, progress)
    heard_before_end: list[int] = []

    def tick() -> None:
        follower.poll()
        if not any(n == "done" for _, _, n in calls):
            heard_before_end.append(len(calls))

    child = ("import time\nfrom soberharness.chaos.progress_file import progress_from_env\n"
             "p = progress_from_env()\nfor i in range(3):\n    p(i, 3, f'step {i}')\n"
             "    time.sleep(0.3)\np(3, 3, 'done')\n")
    env = dict(os.environ, **{ENV: str(path)},
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    ran = run_chaos([sys.executable, "-c", child], timeout=30, env=env, cwd=tmp_path,
                    tick=tick, every=0.1)
    follower.poll()
    assert ran.returncode == 0, ran.stderr
    assert calls == [(0, 3, "step 0"), (1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "done")]
    assert max(heard_before_end) >= 2  # heard while the child still ran


@pytest.mark.destructive
@pytest.mark.needs("postgres")
def test_a_pitr_drill_under_ci_prints_plain_step_lines(tmp_path: Path) -> None:
    """The PITR drill's test run by pytest with CI=1: its progress is plain lines (no carriage
    returns), each step named as it begins, counting up to all ten steps done."""
    reason = next((r for r in map(missing, NEEDS["pitr-restore-to-a-time.json"]) if r), None)
    if reason:
        pytest.skip(reason)
    lines = _plain_progress_lines(
        tmp_path, "suites/dr/test_dr_drills.py",
        "test_pitr_restores_exactly_the_writes_before_the_target",
        "[soberharness] drill pitr-restore-to-a-time: ", timeout=600)
    counts = [ln.split(": ", 1)[1].split(" steps")[0] for ln in lines]
    assert counts[0] == "0/10" and counts[-1] == "10/10", lines
    assert [int(c.split("/")[0]) for c in counts] == sorted(int(c.split("/")[0]) for c in counts)
    assert ", create the stanza, " in lines[0], lines
    assert any("restore to the time into a new data directory" in ln for ln in lines), lines
    assert lines[-1].startswith(
        "[soberharness] drill pitr-restore-to-a-time: 10/10 steps (100%), done in "), lines


def test_chaos_control_counts_the_method_and_names_probes_and_rollbacks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chaostoolkit activity hooks as `chaos run` calls them, on a two-fault experiment:
    the method's activities counted as they end, probes and rollbacks only named."""
    path = tmp_path / "progress.tsv"
    monkeypatch.setenv(ENV, str(path))
    probe = {"type": "probe", "name": "postgres-answers"}
    kill = {"type": "action", "name": "sigkill"}
    heal = {"type": "action", "name": "restart"}
    rollback = {"type": "action", "name": "heal-all"}
    experiment = {"steady-state-hypothesis": {"probes": [probe]}, "method": [kill, heal],
                  "rollbacks": [rollback]}
    monkeypatch.setattr(control, "METHOD_DONE", [0])
    for activity in (probe, kill, heal):
        control.before_activity_control(context=activity, experiment=experiment)
        control.after_activity_control(context=activity, experiment=experiment)
    control.after_method_control(context=experiment)
    control.before_activity_control(context=probe, experiment=experiment)
    control.before_activity_control(context=rollback, experiment=experiment)
    calls, progress = _recorder()
    Follower(path, progress).poll()
    assert calls == [
        (0, 2, "steady state: postgres-answers"), (0, 2, "sigkill"), (1, 2, "restart"),
        (2, 2, "steady state after the faults"), (2, 2, "steady state: postgres-answers"),
        (2, 2, "rollback: heal-all"),
    ]


def test_chaos_control_without_a_progress_file_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    control.before_activity_control(context={"name": "x"}, experiment={"method": []})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.destructive
@pytest.mark.needs("postgres")
def test_a_chaos_experiment_under_ci_prints_plain_activity_lines(tmp_path: Path) -> None:
    """The SIGKILL experiment's test run by pytest with CI=1: plain lines counting the method's
    four activities, the fault named as it runs."""
    lines = _plain_progress_lines(
        tmp_path, "suites/chaos/test_chaos_experiments.py", "test_chaos_run and postgres-sigkill",
        "[soberharness] chaos postgres-sigkill: ", timeout=300)
    assert lines[0].startswith("[soberharness] chaos postgres-sigkill: 0/4 activities (0%), "
                               "steady state: "), lines
    assert any(": 1/4 activities (25%), sigkill-every-postgres-process, " in ln
               for ln in lines), lines
    assert lines[-1].startswith("[soberharness] chaos postgres-sigkill: 4/4 activities (100%), "
                                "rollback: "), lines
    assert " in " in lines[-1].rsplit(", ", 1)[1], lines


def _plain_progress_lines(tmp_path: Path, module: str, select: str, prefix: str,
                          timeout: float) -> list[str]:
    """The progress lines starting with `prefix` of `pytest module -k select` run with CI=1
    (it must pass, and CI's lines carry no carriage return)."""
    repo = Path(__file__).resolve().parents[2]
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", module, "-q", "-p", "no:cacheprovider",
         "--report-dir", str(tmp_path / "reports"), "-k", select],
        cwd=repo, env={**os.environ, "CI": "1"}, capture_output=True, text=True,
        timeout=timeout)
    out = ran.stdout + ran.stderr
    assert ran.returncode == 0, out[-3000:]
    lines = [ln for ln in out.splitlines() if ln.startswith(prefix)]
    assert "\r" not in "".join(lines)
    return lines

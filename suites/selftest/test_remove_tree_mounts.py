"""Removing a run's folder never reaches through a mount inside it: a killed debootstrap leaves
its rootfs's proc, sys and dev mounted, and a plain rmtree as root would delete the host's
files through them. Planted: a bind mount of another folder inside a run folder; the sweep, the
owner's removal and the watchdog all unmount it first, and the other folder keeps its file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from soberharness.targets import watchdog, workdirs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")


def _bind(source: Path, point: Path) -> None:
    point.mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(source), str(point)], check=True, timeout=30)


def _mounted(point: Path) -> bool:
    return any(line.split()[1] == str(point.resolve())
               for line in Path("/proc/self/mounts").read_text().splitlines())


@pytest.mark.parametrize("remove", ["remove_workdir", "remove_tree"])
def test_a_mount_inside_a_run_folder_is_unmounted_not_emptied(tmp_path: Path, remove: str) -> None:
    outside = tmp_path / "host-files"
    outside.mkdir()
    (outside / "keep").write_text("the host's")
    run = workdirs.make_workdir(tmp_path)
    point = run / "rootfs" / "dev"
    _bind(outside, point)
    assert (point / "keep").exists() and _mounted(point)
    if remove == "remove_workdir":
        workdirs.remove_workdir(run)
    else:
        watchdog.remove_tree(run)
    assert not _mounted(point)
    assert not run.exists()
    assert (outside / "keep").read_text() == "the host's"


def test_the_dead_run_sweep_unmounts_too(tmp_path: Path) -> None:
    outside = tmp_path / "host-files"
    outside.mkdir()
    (outside / "keep").write_text("the host's")
    dead = tmp_path / f"{workdirs.PREFIX}dead"
    dead.mkdir()
    (dead / workdirs.OWNER_FILE).write_text("999999999 1\n")  # no such process
    _bind(outside, dead / "rootfs" / "proc")
    assert dead in workdirs.sweep_dead_workdirs(tmp_path)
    assert not _mounted(dead / "rootfs" / "proc")
    assert (outside / "keep").read_text() == "the host's"

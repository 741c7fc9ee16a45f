"""The storage matrix sample (SOBERHARNESS_STORAGE_SAMPLE / --storage-sample): whatever n, it
keeps every form, every actor x operation x owner privacy and every token variant of a bucket,
gives the same cells every time, and a bad value stops the run with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from soberharness.errors import HarnessError
from soberharness.workload.storage_forms import StorageCell, storage_cells
from soberharness.workload.storage_sample import SAMPLE_ENV, parse_sample, sample_cells
from soberharness.world.matrix_world import build_matrix_world

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def videos() -> list[StorageCell]:
    return [c for c in storage_cells(build_matrix_world("smp"))
            if c.cell.table == "objects:videos"]


def _missing(every: list[StorageCell], chosen: list[StorageCell]) -> list[str]:
    def seen(cells: list[StorageCell]) -> set[str]:
        return ({f"form {c.cell.op} {c.cell.case}" for c in cells}
                | {f"{c.cell.actor} {c.cell.op} on {c.cell.privacy}" for c in cells}
                | {f"token {c.cell.token!r}" for c in cells})
    return sorted(seen(every) - seen(chosen))


@pytest.mark.parametrize("n", [1, 50, 160, 500])
def test_a_sample_covers_every_form_actor_and_privacy(n: int,
                                                      videos: list[StorageCell]) -> None:
    sample = sample_cells(videos, n)
    assert not _missing(videos, sample.cells)
    cover = len(sample_cells(videos, 1).cells)  # the smallest sample: the cover alone
    assert len(sample.cells) == max(n, cover) < len(videos) == sample.total
    order = [videos.index(c) for c in sample.cells]
    assert order == sorted(order) and len(set(order)) == len(order)
    assert sample_cells(videos, n).cells == sample.cells  # the same cells every time


def test_no_sample_runs_every_cell(videos: list[StorageCell]) -> None:
    for n in (None, len(videos), len(videos) + 1):
        sample = sample_cells(videos, n)
        assert sample.cells == videos and sample.note() == f"every cell ({len(videos)})"


def test_what_the_check_would_name(videos: list[StorageCell]) -> None:
    """The coverage check itself can fail: a sample without the anon cells is named."""
    without_anon = [c for c in sample_cells(videos, 160).cells if c.cell.actor != "anon"]
    missing = _missing(videos, without_anon)
    only_anon = _missing(videos, [c for c in videos if c.cell.actor != "anon"])
    assert only_anon and set(only_anon) <= set(missing), missing
    # besides anon's own keys, only forms whose sampled cells were all anon's may go missing
    assert all(m.startswith(("anon ", "form ")) for m in missing), missing


@pytest.mark.parametrize("text", ["0", "-3", "ten", "1.5"])
def test_a_bad_sample_size_is_refused(text: str) -> None:
    with pytest.raises(HarnessError, match=SAMPLE_ENV):
        parse_sample(text)
    assert parse_sample("") is None and parse_sample(" 12 ") == 12


def test_a_bad_sample_size_stops_the_run_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
         "suites/storage/test_access_over_http.py", "--report-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env=os.environ | {SAMPLE_ENV: "lots"})
    assert done.returncode == 4, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and SAMPLE_ENV in lines[0] and "'lots'" in lines[0], lines
    assert "Traceback" not in done.stdout + done.stderr

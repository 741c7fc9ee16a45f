"""The import contract (pyproject.toml, [tool.importlinter]): the packages follow the flow
target -> world -> workload -> runner -> checker (pure) -> report, with no cycles.

`lint-imports` passes on the tree, and fails, naming the import, on a copy of the tree with
one planted upward import (a record importing the runner).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACTS = ("layers", "pure-checker", "records-import-nothing", "no-cycles")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the package under `root`, with the contracts of `root`/pyproject.toml."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, env={"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(root)},
        capture_output=True, text=True, timeout=300,
    )


def _copy_tree(into: Path) -> Path:
    shutil.copytree(REPO / "soberharness", into / "soberharness",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", into / "pyproject.toml")
    return into


def test_the_tree_keeps_every_contract() -> None:
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in done.stdout


def test_a_planted_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    record = root / "soberharness" / "records" / "results.py"
    record.write_text(record.read_text() + "\nimport soberharness.runner.matrix  # planted\n")
    done = _lint_imports(root)
    assert done.returncode == 1, done.stdout + done.stderr
    out = " ".join(done.stdout.split())  # lint-imports wraps long lines
    assert "soberharness.records.results -> soberharness.runner.matrix" in out
    assert "Records and errors are plain: they import nothing of the harness BROKEN" in out
    assert "Layers: records at the bottom," in out and "top BROKEN" in out
    assert "No import cycles between the harness's packages BROKEN" in out  # records<->runner


def test_a_planted_checker_import_of_a_client_breaks_the_pure_checker(tmp_path: Path) -> None:
    """The checker judges what the runner observed: importing a client is refused, by name."""
    root = _copy_tree(tmp_path)
    checker = root / "soberharness" / "checker" / "buckets.py"
    checker.write_text(checker.read_text() + "\nimport soberharness.clients.storage  # planted\n")
    done = _lint_imports(root)
    assert done.returncode == 1, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert "The checker judges: it imports only records, access and world BROKEN" in out
    assert "soberharness.checker.buckets -> soberharness.clients.storage" in out

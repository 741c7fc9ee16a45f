"""Run folders as the parity report reads them: reports/runs/<id>/summary.json, one per target."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from soberharness.errors import HarnessError
from soberharness.report.run_folder import FORMAT


class NotComparable(HarnessError):
    """The runs cannot be compared (unreadable folder, other suites, other stack version)."""


@dataclasses.dataclass(frozen=True)
class Run:
    """One run folder: which target it ran on and what it recorded."""

    label: str  # the target's name, made unique among the runs compared
    folder: Path
    doc: Mapping[str, Any]

    @property
    def target(self) -> Mapping[str, Any]:
        return self.doc.get("target") or {}

    @property
    def environment(self) -> Mapping[str, Any]:
        return self.doc.get("environment") or {}

    @property
    def cases(self) -> list[Mapping[str, Any]]:
        return list((self.doc.get("tests") or {}).get("cases") or [])

    @property
    def suites(self) -> frozenset[str]:
        return frozenset(str(c.get("suite")) for c in self.cases)

    @property
    def migrations(self) -> list[str] | None:
        """The stack version: the migration versions (`0001`, ... the part of a name before
        its first `_`) the database records as applied, else the migration folder's."""
        postgres = self.environment.get("postgres") or {}
        applied = postgres.get("applied_migrations")
        if applied:
            return [str(v).split("_")[0] for v in applied]
        names = (self.environment.get("migrations") or {}).get("names")
        return [str(v).split("_")[0] for v in names] if names else None


def load_run(folder: Path) -> Mapping[str, Any]:
    path = folder / "summary.json"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotComparable(f"{folder}: no summary.json (not a run folder)") from None
    except (OSError, ValueError) as exc:
        raise NotComparable(f"{path}: unreadable ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise NotComparable(f"{path}: not a run summary of format {FORMAT}")
    return doc


def load_runs(folders: Sequence[Path]) -> list[Run]:
    """The runs, labelled by target name (with the run id where two share a name)."""
    if len(folders) < 2:
        raise NotComparable(f"parity needs at least two run folders, got {len(folders)}")
    docs = [(folder, load_run(folder)) for folder in folders]
    names = [str((doc.get("target") or {}).get("name") or folder.name) for folder, doc in docs]
    runs = []
    for (folder, doc), name in zip(docs, names, strict=True):
        label = f"{name}@{doc.get('run_id') or folder.name}" if names.count(name) > 1 else name
        runs.append(Run(label, folder, doc))
    labels = [r.label for r in runs]
    if len(set(labels)) != len(labels):
        raise NotComparable(f"the same run was given twice: {sorted(labels)}")
    return runs


def comparability_problems(runs: Sequence[Run]) -> list[str]:
    """Why these runs cannot be compared: other suites ran, or other stack versions."""
    problems = []
    first = runs[0]
    for run in runs[1:]:
        if run.suites != first.suites:
            problems.append(
                f"{run.label} ran suites {sorted(run.suites)}, {first.label} ran "
                f"{sorted(first.suites)}"
            )
        if run.migrations != first.migrations:
            problems.append(
                f"stack versions differ: {run.label} has migrations {run.migrations}, "
                f"{first.label} has {first.migrations}"
            )
    return problems

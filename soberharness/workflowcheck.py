"""Check the CI workflows: actionlint on every file, and the nightly matrix against the targets.

The nightly cross-cloud workflow (.github/workflows/nightly.yml) runs one job per deployment's
target file under fixtures/targets/: its matrix must list exactly those files (by stem), and
leave out the examples (`example*.toml`, whose hosts do not exist). Every file must load as a
target file, and the step that runs the suites must take each secret the file names from the
CI secret store under the same name, guarded so that only that target's job sees it. The
suites run at `--depth nightly`; the job publishes the JUnit file of its run and writes the
run's summary.md to the job summary ($GITHUB_STEP_SUMMARY).
`python -m soberharness.workflowcheck` prints one line per problem, or `ok`.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from soberharness.config.cli import report_problems
from soberharness.errors import HarnessError
from soberharness.targets.migrations import REPO
from soberharness.targets.remote import SECRET_REFS, TargetFileError, load_target_file
from soberharness.targets.services.tools import find_tool, missing_reason

WORKFLOWS = REPO / ".github" / "workflows"
NIGHTLY = WORKFLOWS / "nightly.yml"
TARGETS_DIR = REPO / "fixtures" / "targets"
MATRIX_JOB = "target"
EXAMPLE_PREFIX = "example"  # a target file showing the format, for no deployment
JUNIT_ACTION = "mikepenz/action-junit-report"
ACTIONLINT_TIMEOUT_S = 60


def load_workflow(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HarnessError(f"cannot read workflow {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise HarnessError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
        raise HarnessError(f"{path}: no `jobs` mapping")
    return data


def matrix_targets(workflow: Mapping[str, Any]) -> list[str]:
    """The `target` values of the matrix job's strategy."""
    job = workflow["jobs"].get(MATRIX_JOB) or {}
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    values = matrix.get("target") or []
    return [str(v) for v in values] if isinstance(values, list) else []


def _suite_step_env(workflow: Mapping[str, Any]) -> dict[str, str]:
    job = workflow["jobs"].get(MATRIX_JOB) or {}
    for step in job.get("steps") or []:
        if "--target" in str(step.get("run", "")):
            return {str(k): str(v) for k, v in (step.get("env") or {}).items()}
    return {}


def check_nightly(workflow_path: Path = NIGHTLY, targets_dir: Path = TARGETS_DIR) -> list[str]:
    """One line per disagreement between the nightly matrix and the committed target files."""
    workflow = load_workflow(workflow_path)
    problems: list[str] = []
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    triggers = set(on) if isinstance(on, Mapping) else set()
    for trigger in ("schedule", "workflow_dispatch"):
        if trigger not in triggers:
            problems.append(f"not triggered by {trigger}")
    listed = matrix_targets(workflow)
    every = {p.stem: p for p in sorted(targets_dir.glob("*.toml"))}
    files = {stem: p for stem, p in every.items() if not stem.startswith(EXAMPLE_PREFIX)}
    for stem in sorted(set(listed) & (every.keys() - files.keys())):
        problems.append(f"matrix lists {stem!r}, an example whose hosts do not exist")
        listed = [s for s in listed if s != stem]
    if not listed:
        problems.append(f"job {MATRIX_JOB!r} has no strategy.matrix.target list")
    for stem in sorted(set(listed) - files.keys()):
        problems.append(f"matrix lists {stem!r}, which is not a file in {targets_dir.name}/")
    for stem in sorted(files.keys() - set(listed)):
        problems.append(f"target file {files[stem].name} is missing from the matrix")
    for stem in sorted({s for s in listed if listed.count(s) > 1}):
        problems.append(f"matrix lists {stem!r} more than once")
    env = _suite_step_env(workflow)
    if not env and listed:
        problems.append(f"job {MATRIX_JOB!r} has no step running the suites with --target")
    problems += _nightly_outputs(workflow)
    for stem, path in every.items():
        try:
            target = load_target_file(path, environ={})
        except TargetFileError as exc:
            problems.append(str(exc))
            continue
        if stem not in listed:  # already reported; its secrets have no job to go to
            continue
        config = target.config
        for ref in SECRET_REFS:
            name = getattr(config, ref)
            if name is None:
                continue
            wanted = rf"matrix\.target\s*==\s*'{re.escape(stem)}'\s*&&\s*secrets\.{name}\b"
            if name not in env:
                problems.append(f"{path.name}: {ref} {name} is not set by the suites step")
            elif not re.search(wanted, env[name]):
                problems.append(
                    f"{path.name}: {name} must come from secrets.{name}, "
                    f"only in the {stem!r} job (got {env[name]!r})"
                )
    return problems


def _nightly_outputs(workflow: Mapping[str, Any]) -> list[str]:
    """The matrix job runs at nightly depth, publishes JUnit and writes the job summary."""
    steps = (workflow["jobs"].get(MATRIX_JOB) or {}).get("steps") or []
    runs = [str(step.get("run", "")) for step in steps]
    problems = []
    if not any(re.search(r"--target\b", r) and re.search(r"--depth[ =]nightly\b", r)
               for r in runs):
        problems.append(f"job {MATRIX_JOB!r} does not run the suites with --depth nightly")
    if not any(str(step.get("uses", "")).startswith(JUNIT_ACTION) for step in steps):
        problems.append(f"job {MATRIX_JOB!r} publishes no JUnit results ({JUNIT_ACTION})")
    if not any("summary.md" in r and "GITHUB_STEP_SUMMARY" in r for r in runs):
        problems.append(f"job {MATRIX_JOB!r} does not write summary.md to $GITHUB_STEP_SUMMARY")
    return problems


def actionlint_command() -> list[str]:
    tool = find_tool("actionlint")
    if tool is None:
        raise HarnessError(missing_reason("actionlint"))
    return [str(tool), "-oneline", "-no-color"]


def lint_workflows(folder: Path = WORKFLOWS) -> list[str]:
    """actionlint's findings over every workflow in `folder`, one line each."""
    files = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    if not files:
        return [f"no workflow files in {folder}"]
    try:
        proc = subprocess.run([*actionlint_command(), *map(str, files)], capture_output=True,
                              text=True, timeout=ACTIONLINT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return [f"actionlint did not finish within {ACTIONLINT_TIMEOUT_S} s"]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not lines):
        return [f"actionlint failed (exit {proc.returncode}): {proc.stderr.strip()[:300]}"]
    return lines


def main(argv: list[str] | None = None) -> int:
    """`python -m soberharness.workflowcheck`: actionlint + the nightly matrix."""
    del argv
    return report_problems(WORKFLOWS, lambda: lint_workflows() + check_nightly())


if __name__ == "__main__":
    raise SystemExit(main())

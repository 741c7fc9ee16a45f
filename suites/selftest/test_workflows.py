"""The CI workflows: actionlint finds nothing, the nightly matrix is exactly the target files.

Each check is shown to fail on a planted defect in a copy of the files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from soberharness.workflowcheck import (
    NIGHTLY,
    TARGETS_DIR,
    WORKFLOWS,
    check_nightly,
    lint_workflows,
    load_workflow,
    matrix_targets,
)


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["ci.yml", "nightly.yml"]
    assert lint_workflows() == []


def test_actionlint_reports_a_planted_error(tmp_path: Path) -> None:
    text = NIGHTLY.read_text().replace("needs: target", "needs: no-such-job")
    (tmp_path / "nightly.yml").write_text(text)
    findings = lint_workflows(tmp_path)
    assert len(findings) == 1, findings
    assert "no-such-job" in findings[0] and "nightly.yml" in findings[0]


def test_ci_runs_the_readme_test_command_on_push() -> None:
    ci = load_workflow(WORKFLOWS / "ci.yml")
    assert "push" in ci.get("on", ci.get(True))
    runs = [step.get("run", "") for job in ci["jobs"].values() for step in job["steps"]]
    readme = (WORKFLOWS.parents[1] / "README.md").read_text()
    assert "./scripts/setup.sh && .venv/bin/pytest" in readme
    assert "./scripts/setup.sh && .venv/bin/pytest" in runs


def test_nightly_matrix_is_exactly_the_committed_target_files() -> None:
    stems = sorted(p.stem for p in TARGETS_DIR.glob("*.toml") if not p.stem.startswith("example"))
    assert {"aws", "gcp", "azure", "onprem"} <= set(stems)
    assert sorted(matrix_targets(load_workflow(NIGHTLY))) == stems
    assert check_nightly() == []


def test_the_example_target_is_not_in_the_nightly_matrix(tmp_path: Path) -> None:
    assert (TARGETS_DIR / "example-remote.toml").exists()
    assert "example-remote" not in matrix_targets(load_workflow(NIGHTLY))
    workflow, targets = _copies(tmp_path)
    doc = yaml.safe_load(workflow.read_text())
    doc["jobs"]["target"]["strategy"]["matrix"]["target"].append("example-remote")
    workflow.write_text(yaml.safe_dump(doc))
    assert check_nightly(workflow, targets) == [
        "matrix lists 'example-remote', an example whose hosts do not exist"]


def _suites_step(doc: dict) -> dict:
    return next(s for s in doc["jobs"]["target"]["steps"] if "--target" in s.get("run", ""))


@pytest.mark.parametrize(("plant", "problem"), [
    (lambda doc: _suites_step(doc).update(
        run=_suites_step(doc)["run"].replace(" --depth nightly", "")),
     "job 'target' does not run the suites with --depth nightly"),
    (lambda doc: doc["jobs"]["target"]["steps"].remove(next(
        s for s in doc["jobs"]["target"]["steps"] if "action-junit-report" in s.get("uses", ""))),
     "job 'target' publishes no JUnit results (mikepenz/action-junit-report)"),
    (lambda doc: doc["jobs"]["target"]["steps"].remove(next(
        s for s in doc["jobs"]["target"]["steps"] if "GITHUB_STEP_SUMMARY" in s.get("run", ""))),
     "job 'target' does not write summary.md to $GITHUB_STEP_SUMMARY"),
])
def test_nightly_depth_junit_and_job_summary_are_checked(tmp_path: Path, plant, problem) -> None:
    workflow, targets = _copies(tmp_path)
    doc = yaml.safe_load(workflow.read_text())
    plant(doc)
    workflow.write_text(yaml.safe_dump(doc))
    assert check_nightly(workflow, targets) == [problem]


def _copies(tmp_path: Path) -> tuple[Path, Path]:
    targets = tmp_path / "targets"
    shutil.copytree(TARGETS_DIR, targets)
    workflow = tmp_path / "nightly.yml"
    shutil.copy(NIGHTLY, workflow)
    return workflow, targets


def test_a_target_file_missing_from_the_matrix_is_reported(tmp_path: Path) -> None:
    workflow, targets = _copies(tmp_path)
    text = (targets / "aws.toml").read_text().replace("SOBER_AWS_", "SOBER_AWSUS_")
    (targets / "aws-us.toml").write_text(text.replace('"sobertube-aws"', '"sobertube-aws-us"'))
    problems = check_nightly(workflow, targets)
    assert problems == ["target file aws-us.toml is missing from the matrix"]


def test_a_matrix_entry_without_a_file_is_reported(tmp_path: Path) -> None:
    workflow, targets = _copies(tmp_path)
    (targets / "gcp.toml").unlink()
    problems = check_nightly(workflow, targets)
    assert problems == ["matrix lists 'gcp', which is not a file in targets/"]


@pytest.mark.parametrize("value", ["${{ secrets.SOBER_AZURE_ANON_KEY }}",
                                   "${{ matrix.target == 'aws' && secrets.SOBER_AZURE_ANON_KEY }}",
                                   "eyJhbGciOiJIUzI1NiJ9"])
def test_a_secret_not_taken_from_the_store_for_its_own_target_is_reported(
    tmp_path: Path, value: str
) -> None:
    workflow, targets = _copies(tmp_path)
    doc = yaml.safe_load(workflow.read_text())
    step = next(s for s in doc["jobs"]["target"]["steps"] if "--target" in s.get("run", ""))
    step["env"]["SOBER_AZURE_ANON_KEY"] = value
    workflow.write_text(yaml.safe_dump(doc))
    problems = check_nightly(workflow, targets)
    assert len(problems) == 1 and problems[0].startswith(
        "azure.toml: SOBER_AZURE_ANON_KEY must come from secrets.SOBER_AZURE_ANON_KEY"), problems


def test_nightly_without_a_schedule_is_reported(tmp_path: Path) -> None:
    workflow, targets = _copies(tmp_path)
    doc = yaml.safe_load(workflow.read_text())
    del doc[True]["schedule"]
    workflow.write_text(yaml.safe_dump(doc))
    assert check_nightly(workflow, targets) == ["not triggered by schedule"]

"""Line coverage of soberharness/: the per-package table, and the gate that fails a whole run in
which a module below 70 % is not listed with its reason in docs/coverage.md."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import coverage

from soberharness.checker.line_coverage import (
    ModuleCoverage,
    judge,
    package_rows,
    read_declared,
    table_lines,
)

# Not imported from the plugin: importing it starts measuring (pytest loads it with -p).
REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "soberharness"
DECLARED = REPO / "docs" / "coverage.md"
ENV_DECLARED = "SOBERHARNESS_COVERAGE_DECLARED"
ENV_PARENT = "SOBERHARNESS_COVERAGE_PARENT"
ENV_DATA = "SOBERHARNESS_COVERAGE_DATA"

MODULES = [
    ModuleCoverage("soberharness/errors.py", 10, 0),
    ModuleCoverage("soberharness/targets/remote.py", 200, 20),
    ModuleCoverage("soberharness/targets/expose.py", 100, 50),
    ModuleCoverage("soberharness/targets/services/tools.py", 40, 39),
]


def test_packages_sum_their_modules() -> None:
    rows = {r.package: r for r in package_rows(MODULES)}
    assert rows["soberharness/targets"].statements == 300
    assert rows["soberharness/targets"].missing == 70
    assert rows["soberharness/targets"].modules == 2
    assert round(rows["soberharness/targets/services"].percent, 1) == 2.5
    assert rows["soberharness"].percent == 100.0
    lines = table_lines(MODULES)
    assert lines[-1].split() == ["total", "4", "350", "109", "69%"]
    assert [line.split()[0] for line in lines[1:-1]] == [
        "soberharness", "soberharness/targets", "soberharness/targets/services"]


def test_a_module_below_the_bar_without_a_reason_is_named() -> None:
    declared = {"soberharness/targets/services/tools.py": "runs only as a subprocess"}
    verdict = judge(MODULES, declared)
    assert [m.path for m in verdict.undeclared] == ["soberharness/targets/expose.py"]
    assert verdict.stale == []
    # A row without a reason is no declaration.
    assert [m.path for m in judge(MODULES, {**declared, "soberharness/targets/expose.py": ""})
            .undeclared] == ["soberharness/targets/expose.py"]


def test_listed_modules_at_the_bar_or_gone_are_noted() -> None:
    declared = {"soberharness/targets/expose.py": "x", "soberharness/targets/services/tools.py":
                "y", "soberharness/targets/remote.py": "z", "soberharness/gone.py": "w"}
    verdict = judge(MODULES, declared)
    assert verdict.undeclared == []
    assert verdict.stale == [
        "soberharness/gone.py: no such module was measured: remove its line",
        "soberharness/targets/remote.py: 90%, at or above 70%: remove its line"]


def test_the_declared_list_names_existing_modules_with_reasons() -> None:
    declared = read_declared(DECLARED)
    assert declared, "docs/coverage.md lists no module"
    for path, reason in declared.items():
        assert (REPO / path).is_file(), f"{path}: listed in docs/coverage.md, no such module"
        assert len(reason) > 15, f"{path}: no reason given"


PROJECT_TEST = """
from soberharness.checker.line_coverage import ModuleCoverage

def test_one():
    assert ModuleCoverage("x.py", 4, 1).percent == 75.0
"""


def _run_project(tmp_path: Path, declared: dict[str, str], *args: str,
                 data: Path | None = None) -> tuple[int, str]:
    """pytest on a project of one test, whole default suite unless args select. Like the
    harness's own plugin (an entry point), `-p soberharness.errors` imports a module of the
    harness before pytest reads the test files."""
    project = tmp_path / "project"
    (project / "t").mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\ntestpaths = ["t"]\n'
        'addopts = "-p soberharness.coverage_plugin -p soberharness.errors '
        '-p no:cacheprovider"\n')
    (project / "t" / "test_one.py").write_text(PROJECT_TEST)
    listing = tmp_path / "declared.md"
    listing.write_text("| module | why |\n|---|---|\n"
                       + "".join(f"| `{p}` | {r} |\n" for p, r in declared.items()))
    env = {k: v for k, v in os.environ.items() if k != ENV_PARENT}
    env[ENV_DECLARED] = str(listing)
    env.pop(ENV_DATA, None)
    if data is not None:
        env[ENV_DATA] = str(data)
    run = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=project, env=env,
                         capture_output=True, text=True, timeout=300)
    return run.returncode, run.stdout + run.stderr


def _every_module_but(planted: str) -> dict[str, str]:
    paths = (p.relative_to(REPO).as_posix() for p in PACKAGE.rglob("*.py"))
    return {p: "declared for this test only" for p in paths
            if p != planted and p not in ("soberharness/__init__.py",
                                          "soberharness/coverage_plugin.py")}


def test_a_whole_run_fails_on_exactly_the_undeclared_module(tmp_path: Path) -> None:
    planted = "soberharness/checker/buckets.py"
    data = tmp_path / "coverage.data"
    code, output = _run_project(tmp_path, _every_module_but(planted), data=data)
    assert code == 1, output
    flagged = [line for line in output.splitlines() if line.startswith("COVERAGE: ")]
    assert len(flagged) == 1 and flagged[0].startswith(f"COVERAGE: {planted} 0% < 70%"), output
    assert "1 passed" in output
    assert "soberharness/checker " in output  # the per-package table
    # Measured from before the plugins imported the harness: errors.py's class statements,
    # run when `-p soberharness.errors` imported it, count as run.
    cov = coverage.Coverage(data_file=str(data), config_file=False)
    cov.load()
    _, statements, _, missing, _ = cov.analysis2(str(PACKAGE / "errors.py"))
    assert 6 in statements and 6 not in missing, missing

    code, output = _run_project(tmp_path, {**_every_module_but(planted), planted: "a reason"})
    assert code == 0, output
    assert "every module below 70 % is listed with its reason" in output


def test_a_partial_run_is_measured_on_request_but_not_judged(tmp_path: Path) -> None:
    code, output = _run_project(tmp_path, {}, "-k", "one", "--harness-coverage=on")
    assert code == 0, output
    assert "line coverage of soberharness/" in output
    assert "are not judged" in output and "COVERAGE: " not in output
    code, output = _run_project(tmp_path, {}, "t/test_one.py")
    assert code == 0 and "line coverage" not in output, output

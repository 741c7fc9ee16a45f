"""scripts/install-services.sh: clear "skipped" lines for what it cannot install, exit 0."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from soberharness.targets.services.tools import REPO_ROOT, find_tool, pinned_versions

SCRIPT = REPO_ROOT / "scripts" / "install-services.sh"


def _copy_scripts(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "scripts", repo / "scripts")
    return repo


def _run(script: Path, *args: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True,
                          timeout=120, env=env, check=False)


def test_missing_go_and_npm_are_skipped_and_exit_zero(tmp_path: Path) -> None:
    repo = _copy_scripts(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "GO": str(tmp_path / "no-go"), "NPM": str(tmp_path / "no-npm")}
    result = _run(repo / "scripts" / "install-services.sh", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for tool in ("gotrue", "mailpit", "toxiproxy"):
        assert f"skipped: {tool} because the go command is not installed" in out
    assert "skipped: deno because npm is not installed" in out
    assert (repo / ".tools" / "stamps" / "deno.skipped").read_text().startswith("npm is not")
    strict = _run(repo / "scripts" / "install-services.sh", "--strict", "deno", env=env)
    assert strict.returncode == 1


def test_unknown_argument_is_refused(tmp_path: Path) -> None:
    result = _run(_copy_scripts(tmp_path) / "scripts" / "install-services.sh", "postgrest")
    assert result.returncode == 2 and "unknown argument: postgrest" in result.stderr


def test_installed_tools_are_left_alone() -> None:
    installed = [t for t in ("mailpit", "toxiproxy", "deno") if find_tool(t) is not None]
    if not installed:
        pytest.skip("mailpit, toxiproxy, deno not installed: run scripts/install-services.sh")
    result = _run(SCRIPT, *installed)
    assert result.returncode == 0
    versions = pinned_versions()
    keys = {"mailpit": "MAILPIT_VERSION", "toxiproxy": "TOXIPROXY_VERSION",
            "deno": "DENO_NPM_VERSION"}
    for tool in installed:
        assert f"{tool} {versions[keys[tool]]} already installed" in result.stdout

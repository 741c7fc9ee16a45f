"""The security suite through the remote code path gives the same matrix as the local run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from soberharness.targets.expose import exposed
from soberharness.targets.local import LocalTarget

REPO = Path(__file__).resolve().parents[2]


def _security_run(report_dir: Path, *extra: str, env: dict[str, str] | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/security", "-q",
         "--report-dir", str(report_dir), *extra],
        cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads((report_dir / "summary.json").read_text())


@pytest.mark.needs("postgres")
def test_remote_path_matches_local_run(tmp_path: Path) -> None:
    local = _security_run(tmp_path / "local", "--target", "local")
    stack = LocalTarget(workdir=tmp_path / "exposed")
    try:
        stack.start()
        text, env = exposed(stack)
        target_file = tmp_path / "exposed.toml"
        target_file.write_text(text)
        remote = _security_run(tmp_path / "remote", "--target", str(target_file), env=env)
    finally:
        stack.stop()
    assert remote["target"]["kind"] == "remote"
    assert remote["matrix"]["cells_checked"] == local["matrix"]["cells_checked"] > 0
    assert remote["matrix"]["mismatches"] == local["matrix"]["mismatches"] == []
    assert remote["matrix"]["outcomes_digest"] == local["matrix"]["outcomes_digest"]
    secret = env["SOBER_EXPOSED_JWT_SECRET"]
    for name in ("summary.json", "summary.md", "matrix.html"):
        assert secret not in (tmp_path / "remote" / name).read_text()

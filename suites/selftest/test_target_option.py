"""`--target` takes a target file anywhere, written with or without `=` (issue 18,
observation 7): `pytest --list-targets --target /abs/path.toml` from the repository, with no
test path, once failed with "unrecognized arguments" (pytest took the path for a test path,
looked for its configuration beside it and never loaded the harness's plugin); `--target=` did
not. The plugin is loaded as an entry point now, before pytest reads the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

TARGET_FILE = """
name = "elsewhere"
[urls]
auth = "http://127.0.0.1:1/auth/v1"
[secrets]
anon_key_env = "ELSEWHERE_ANON"
service_key_env = "ELSEWHERE_SERVICE"
"""


@pytest.mark.parametrize("form", ["space", "equals"])
def test_list_targets_with_a_target_file_outside_the_repository(tmp_path: Path,
                                                                 form: str) -> None:
    path = tmp_path / "outside" / "elsewhere.toml"
    path.parent.mkdir()
    path.write_text(TARGET_FILE)
    option = ["--target", str(path)] if form == "space" else [f"--target={path}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBERHARNESS_", "PYTEST_"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "--list-targets", *option],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "unrecognized arguments" not in output, output
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert {"target", "local", "containers"} <= set(rows), output
    assert rows["elsewhere"].split()[1] == "remote", output
    assert rows["elsewhere"].endswith(f"target file {path}: auth"), output

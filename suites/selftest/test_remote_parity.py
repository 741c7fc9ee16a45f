"""The security suite through the remote code path gives the same matrix as the local run,
and the parity report over the two run folders finds no behaviour difference (exit 0)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from soberharness.parity.__main__ import main as parity_main
from soberharness.targets.expose import exposed
from soberharness.targets.local import LocalTarget

if TYPE_CHECKING:
    from conftest import SecurityRun


@pytest.mark.needs("postgres")
def test_remote_path_matches_local_run(
    tmp_path: Path, stock_security_run: SecurityRun,
    run_security_suite: Callable[..., SecurityRun], capsys: pytest.CaptureFixture[str],
) -> None:
    local = stock_security_run.summary
    stack = LocalTarget(workdir=tmp_path / "exposed")
    try:
        stack.start()
        text, env = exposed(stack)
        target_file = tmp_path / "exposed.toml"
        target_file.write_text(text)
        run = run_security_suite(tmp_path / "remote", "--target", str(target_file), env=env,
                           run_id="remote")
    finally:
        stack.stop()
    assert run.returncode == 0, run.output
    remote = run.summary
    assert remote["target"]["kind"] == "remote"
    assert remote["matrix"]["cells_checked"] == local["matrix"]["cells_checked"] > 0
    assert remote["matrix"]["mismatches"] == local["matrix"]["mismatches"] == []
    assert remote["matrix"]["outcomes_digest"] == local["matrix"]["outcomes_digest"]
    secret = env["SOBER_EXPOSED_JWT_SECRET"]
    for name in ("summary.json", "summary.md", "matrix.html"):
        assert secret not in (tmp_path / "remote" / name).read_text()
    for name in ("summary.json", "index.html", "junit.xml"):
        assert secret not in (run.folder / name).read_text()

    # Two runs of the same stack: the parity report finds no behaviour difference.
    code = parity_main([str(stock_security_run.folder), str(run.folder),
                        "--out", str(tmp_path / "parity")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "0 behaviour differences" in printed and "DIFF" not in printed

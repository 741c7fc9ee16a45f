"""The pieces behind issue 22's endings, in this process: checked environment numbers, the
report-folder fallback, the SIGTERM and early Ctrl-C handlers, the target-check rule, the
migration statement timeout."""

from __future__ import annotations

import dataclasses
import types
from pathlib import Path
from typing import Any

import pytest

from soberharness import early_interrupt
from soberharness.config.env_values import env_int, env_seconds
from soberharness.errors import BadInput
from soberharness.report import fallback, terminate, verdict
from soberharness.report.bad_input import stop_line
from soberharness.targets import sql_timeout


def test_env_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("X_N", raising=False)
    assert env_int("X_N", 7) == 7 and env_seconds("X_N", 2.5) == 2.5
    monkeypatch.setenv("X_N", " 12 ")
    assert env_int("X_N", 7) == 12 and env_seconds("X_N", 2.5) == 12.0
    for raw, call, message in [
        ("abc", lambda: env_int("X_N", 7), "X_N='abc' is not a whole number (unset it for 7)"),
        ("0", lambda: env_int("X_N", 7, minimum=1), "X_N='0' is below 1 (unset it for 7)"),
        ("soon", lambda: env_seconds("X_N", 3), "X_N='soon' is not a number of seconds"),
        ("-1", lambda: env_seconds("X_N", 3), "X_N='-1' must be a positive number of seconds"),
        ("nan", lambda: env_seconds("X_N", 3), "X_N='nan' must be a positive number"),
    ]:
        monkeypatch.setenv("X_N", raw)
        with pytest.raises(BadInput) as info:
            call()
        assert str(info.value).startswith(message)
    assert stop_line(BadInput("a\nb")) == "soberharness: a"
    assert stop_line(BadInput("soberharness: said")) == "soberharness: said"


def _config(report_dir: Path) -> Any:
    option = types.SimpleNamespace(report_dir=str(report_dir))
    return types.SimpleNamespace(option=option, getoption=lambda name: option.report_dir)


def test_report_dir_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = _config(tmp_path / "reports" / "latest")
    assert fallback.ensure_writable_report_dir(good) == ""
    (tmp_path / "file").write_text("x")
    moved = _config(tmp_path / "file" / "latest")
    monkeypatch.setattr(fallback, "fallback_folder", lambda: tmp_path / "elsewhere" / "latest")
    line = fallback.ensure_writable_report_dir(moved)
    assert line.startswith("soberharness: cannot write reports to ") and "elsewhere" in line
    assert moved.option.report_dir == str(tmp_path / "elsewhere" / "latest")
    nowhere = _config(tmp_path / "file" / "latest")
    monkeypatch.setattr(fallback, "fallback_folder", lambda: tmp_path / "file" / "b" / "latest")
    assert "no reports for this run" in fallback.ensure_writable_report_dir(nowhere)
    assert fallback.write_failed_line(PermissionError(13, "Permission denied", "/r")) == \
        "soberharness: could not write the reports: Permission denied (/r)"


def test_sigterm_handler_raises_and_gives_up_after_its_grace(
        monkeypatch: pytest.MonkeyPatch) -> None:
    timers: list[Any] = []

    class Timer:
        def __init__(self, seconds: float, action: Any) -> None:
            self.seconds, self.action, self.daemon = seconds, action, False
            timers.append(self)

        def start(self) -> None:
            pass

    monkeypatch.setattr(terminate.threading, "Timer", Timer)
    with pytest.raises(terminate.Terminated):
        terminate._terminate(15)
    assert [t.seconds for t in timers] == [terminate.GRACE_S] and timers[0].daemon
    done: list[Any] = []
    monkeypatch.setattr(terminate.lifecycle, "run_cleanups", lambda: done.append("cleanups"))
    monkeypatch.setattr(terminate.os, "_exit", lambda status: done.append(status))
    timers[0].action()
    assert done == ["cleanups", 143]


def test_early_ctrl_c_handler_says_one_line(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    exits: list[int] = []
    monkeypatch.setattr(early_interrupt.os, "_exit", exits.append)
    early_interrupt._interrupted(2, None)
    assert exits == [2] and capsys.readouterr().err == early_interrupt.LINE + "\n"


@dataclasses.dataclass
class _Case:
    outcome: str
    about_target: bool = True


def test_only_checks_of_the_target_count() -> None:
    independent = _Case("passed", about_target=False)
    assert not verdict.checked_the_target([independent, _Case("skipped")])
    assert verdict.checked_the_target([independent, _Case("failed")])
    assert not verdict.about_target(types.SimpleNamespace(keywords={"target_independent": 1}))
    assert verdict.about_target(types.SimpleNamespace(keywords={"needs": 1}))
    line = verdict.nothing_checked_line([independent, _Case("skipped")], "soberharness:", True)
    assert line == ("soberharness: nothing about the target was checked (1 skipped, 1 "
                    "target-independent) (accepted: --allow-all-skipped)")


def test_statement_timeout_pieces() -> None:
    assert sql_timeout.set_local_sql(2.5) == b"SET LOCAL statement_timeout = 2500"
    assert sql_timeout.touches_timeout("SET Statement_Timeout = 0")
    assert not sql_timeout.touches_timeout("select pg_sleep(1)")
    assert "SOBERHARNESS_STATEMENT_TIMEOUT=2" in sql_timeout.timeout_hint(2)

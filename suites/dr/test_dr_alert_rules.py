"""The alert rules of stack/monitoring, with promtool: unit tests on synthetic series, the
compose file's Prometheus config valid and loading them, planted broken rules caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from soberharness.dr import promtool
from soberharness.dr.tools import missing

# Checks of the repository's own files and judges: nothing about the target (report.verdict).
pytestmark = pytest.mark.target_independent

ALERTS = {"PostgresPrimaryDown", "PostgresReplicationLagHigh", "PostgresWalArchivingFailing",
          "PostgresBackupTooOld", "PostgresConnectionsSaturated", "ServiceHigh5xxRate"}


@pytest.fixture(autouse=True)
def _promtool() -> None:
    reason = missing("promtool")
    if reason:
        pytest.skip(reason)


def _rules(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    """The rules and their tests in a throwaway folder, laid out as in the repository."""
    shutil.copy(promtool.MONITORING / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "tests").mkdir()
    shutil.copy(promtool.RULE_TESTS, tmp_path / "tests" / "alerts.test.yml")
    return tmp_path / "alerts.yml", tmp_path / "tests" / "alerts.test.yml"


def test_every_alert_is_there_and_unit_tested() -> None:
    names = {r["alert"] for g in _rules(promtool.MONITORING / "alerts.yml")["groups"]
             for r in g["rules"]}
    assert names == ALERTS
    tested = {t["alertname"] for case in _rules(promtool.RULE_TESTS)["tests"]
              for t in case["alert_rule_test"]}
    assert tested == ALERTS
    for case in _rules(promtool.RULE_TESTS)["tests"]:  # each alert also checked quiet
        for name in {t["alertname"] for t in case["alert_rule_test"]}:
            quiet = [t for t in case["alert_rule_test"]
                     if t["alertname"] == name and not t.get("exp_alerts")]
            assert quiet, f"{case['name']}: {name} never checked quiet"


def test_alert_rules_pass_their_unit_tests() -> None:
    ran = promtool.promtool("test", "rules", str(promtool.RULE_TESTS))
    assert ran.ok, ran.stdout + ran.stderr
    assert "SUCCESS" in ran.stdout


def test_compose_prometheus_config_is_valid_and_loads_the_rules() -> None:
    config = promtool.compose_prometheus_config()
    assert config == (promtool.MONITORING / "prometheus.yml").resolve()
    ran = promtool.promtool("check", "config", str(config))
    assert ran.ok, ran.stdout + ran.stderr
    assert promtool.rules_loaded(ran.stdout + ran.stderr) == len(ALERTS)


def test_planted_wrong_threshold_fails_the_unit_tests(tmp_path: Path) -> None:
    """A rule that can no longer fire (primary down compared with 2) fails exactly its test."""
    rules, tests = _copy(tmp_path)
    text = rules.read_text()
    broken = text.replace('expr: up{job="postgres"} == 0', 'expr: up{job="postgres"} == 2', 1)
    assert broken != text
    rules.write_text(broken)
    ran = promtool.promtool("test", "rules", str(tests))
    assert not ran.ok
    assert promtool.failed_alerts(ran.stdout + ran.stderr) == ["PostgresPrimaryDown"]


def test_planted_rule_that_always_fires_fails_the_unit_tests(tmp_path: Path) -> None:
    """A rule that fires on healthy series (no threshold) fails its quiet checks."""
    rules, tests = _copy(tmp_path)
    text = rules.read_text()
    broken = text.replace("pg_replication_lag_seconds > 30", "pg_replication_lag_seconds >= 0", 1)
    assert broken != text
    rules.write_text(broken)
    ran = promtool.promtool("test", "rules", str(tests))
    assert not ran.ok
    assert promtool.failed_alerts(ran.stdout + ran.stderr) == ["PostgresReplicationLagHigh"]


def test_planted_syntax_error_fails_check_config(tmp_path: Path) -> None:
    shutil.copy(promtool.MONITORING / "prometheus.yml", tmp_path / "prometheus.yml")
    rules, _ = _copy(tmp_path)
    text = rules.read_text()
    broken = text.replace("expr: min by (stanza) (", "expr: min by (stanza (", 1)
    assert broken != text
    rules.write_text(broken)
    ran = promtool.promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert not ran.ok
    assert "alerts.yml" in ran.stdout + ran.stderr

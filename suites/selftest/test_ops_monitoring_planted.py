"""Planted defects the monitoring check (suites/ops) must report, on a real Prometheus:
- the stack as it was before issue 24 (no nginx exporter deployed, Prometheus told to scrape
  `gateway:9113`, where the gateway does not listen): that target down;
- a scrape target nothing plays: down, named by the address the config gives;
- an alert rule on a series nobody exports: a rule without data, named by its alert;
- the gateway's request log not on the volume mtail reads (gateway-requests): mtail counts
  nothing, so ServiceHigh5xxRate is a rule without data (http_requests_total);
- postgres-exporter without its queries file (no --extend.query-path): PostgresBackupTooOld
  is a rule without data (pgbackrest_backup_since_last_completion_seconds)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from soberharness.config.envcheck import COMPOSE_FILE
from soberharness.ops import gaps, tools
from soberharness.ops.checks import look
from soberharness.ops.monitoring import MONITORING, MonitoringStack
from soberharness.ops.receiver import WebhookReceiver

TOOLS = ("prometheus", "alertmanager", "postgres-exporter", "nginx-exporter", "nginx", "mtail",
         "pgbackrest")


def _compose_without_gateway_exporter(tmp_path: Path) -> Path:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    del compose["services"]["gateway-exporter"]
    compose["services"]["prometheus"]["depends_on"].pop("gateway-exporter")
    gateway = compose["services"]["gateway"]
    gateway["volumes"] = [v for v in gateway["volumes"] if not v.startswith("gateway-logs:")]
    del compose["services"]["postgres-exporter"]["command"]
    (tmp_path / "compose").mkdir()
    path = tmp_path / "compose" / "docker-compose.yml"  # ../monitoring: the planted copy
    path.write_text(yaml.safe_dump(compose))
    return path


def _monitoring_with_planted(tmp_path: Path) -> Path:
    folder = tmp_path / "monitoring"
    shutil.copytree(MONITORING, folder)
    config = yaml.safe_load((folder / "prometheus.yml").read_text())
    gateway = next(j for j in config["scrape_configs"] if j["job_name"] == "gateway")
    assert gateway["static_configs"][0]["targets"] == ["gateway-exporter:9113"]
    gateway["static_configs"][0]["targets"] = ["gateway:9113"]  # as before issue 24
    config["scrape_configs"].append(
        {"job_name": "planted-dead", "static_configs": [{"targets": ["dead-exporter:9100"]}]})
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    rules = yaml.safe_load((folder / "alerts.yml").read_text())
    rules["groups"][0]["rules"].append(
        {"alert": "PlantedNobodyExports", "expr": "rate(sober_planted_series_total[5m]) > 0",
         "for": "1m", "labels": {"severity": "warning"}})
    (folder / "alerts.yml").write_text(yaml.safe_dump(rules))
    return folder


def test_planted_dead_targets_and_rule_without_data_are_reported(tmp_path: Path) -> None:
    reason = tools.missing(*TOOLS)
    if reason:
        pytest.skip(reason)
    compose = _compose_without_gateway_exporter(tmp_path)
    monitoring = _monitoring_with_planted(tmp_path)
    with WebhookReceiver() as receiver, \
            MonitoringStack(receiver.url, monitoring=monitoring, compose_file=compose) as stack:
        assert stack.rendered is not None
        seen = look(stack.prometheus_url, stack.rendered.rules)
    assert sorted(stack.rendered.unmapped) == ["gateway: gateway:9113",
                                               "planted-dead: dead-exporter:9100"]
    assert [f.subject for f in seen.down] == ["gateway gateway:9113",
                                              "planted-dead dead-exporter:9100"]
    assert {f.subject for f in seen.without_data} == {*gaps.UNEXPORTED, "PlantedNobodyExports",
                                                      "ServiceHigh5xxRate",
                                                      "PostgresBackupTooOld"}
    details = {f.subject: f.detail for f in seen.without_data}
    assert details["PlantedNobodyExports"] == "no target exports sober_planted_series_total"
    assert details["ServiceHigh5xxRate"] == "no target exports http_requests_total"
    assert details["PostgresBackupTooOld"] == \
        "no target exports pgbackrest_backup_since_last_completion_seconds"
    assert stack.processes == [] and stack.workdir is None  # everything stopped

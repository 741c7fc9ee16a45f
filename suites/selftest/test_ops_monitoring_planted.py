"""Planted defects the monitoring check (suites/ops) must report, on a real Prometheus:
- the stack as it was before issue 24 (no nginx exporter deployed, Prometheus told to scrape
  `gateway:9113`, where the gateway does not listen): that target down;
- a scrape target nothing plays: down, named by the address the config gives;
- an alert rule on a series nobody exports: a rule without data, named by its alert;
- the gateway's request log not on the volume mtail reads (gateway-requests): mtail counts
  nothing, so ServiceHigh5xxRate is a rule without data (http_requests_total);
- postgres-exporter's queries file without the pgBackRest query: PostgresBackupTooOld is a
  rule without data (pgbackrest_backup_since_last_completion_seconds);
- a dashboard panel on a series nobody exports: a panel without series, named by dashboard and
  panel (beside the panels the plants above leave without data: the gateway's and the backup's);
- a KPI view counting pending follow requests as follows: the "Follows (accepted)" panel shows
  3 where the world holds 2, that panel and no other reported.

One planted stack for all of them (one start, ~15 s)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from soberharness.config.envcheck import COMPOSE_FILE
from soberharness.db import session as db_session
from soberharness.ops import gaps, kpi_world, tools
from soberharness.ops.checks import look, look_dashboards, wait_kpis
from soberharness.ops.monitoring import MONITORING, MonitoringStack
from soberharness.ops.receiver import WebhookReceiver
from soberharness.targets.migrations import STACK_MIGRATIONS

TOOLS = ("prometheus", "alertmanager", "postgres-exporter", "nginx-exporter", "nginx", "mtail",
         "pgbackrest")


def _compose_without_gateway_exporter(tmp_path: Path) -> Path:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    del compose["services"]["gateway-exporter"]
    compose["services"]["prometheus"]["depends_on"].pop("gateway-exporter")
    gateway = compose["services"]["gateway"]
    gateway["volumes"] = [v for v in gateway["volumes"] if not v.startswith("gateway-logs:")]
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
    queries = yaml.safe_load((folder / "postgres-exporter-queries.yml").read_text())
    del queries["pgbackrest_backup"]
    (folder / "postgres-exporter-queries.yml").write_text(yaml.safe_dump(queries))
    kpis = folder / "dashboards" / "sobertube-kpis.json"
    model = json.loads(kpis.read_text())
    model["panels"].append({"id": 99, "type": "stat", "title": "Planted panel", "targets": [
        {"refId": "A", "expr": 'sum(sober_planted_dashboard_series{instance=~"$instance"})'}]})
    kpis.write_text(json.dumps(model))
    return folder


ACCEPTED = "(select count(*) from public.follows where status = 'accepted') as follows_accepted"


def _migrations_with_planted(tmp_path: Path) -> Path:
    """The stack's migrations, the KPI view counting every follow as accepted."""
    folder = tmp_path / "migrations"
    shutil.copytree(STACK_MIGRATIONS, folder)
    up = folder / "0016_kpi_views" / "up.sql"
    text = up.read_text()
    assert ACCEPTED in text
    up.write_text(text.replace(ACCEPTED, "(select count(*) from public.follows) "
                                         "as follows_accepted"))
    return folder


def test_planted_dead_targets_and_rule_without_data_are_reported(tmp_path: Path) -> None:
    reason = tools.missing(*TOOLS)
    if reason:
        pytest.skip(reason)
    compose = _compose_without_gateway_exporter(tmp_path)
    monitoring = _monitoring_with_planted(tmp_path)
    migrations = _migrations_with_planted(tmp_path)
    with WebhookReceiver() as receiver, \
            MonitoringStack(receiver.url, monitoring=monitoring, compose_file=compose,
                            migrations=migrations) as stack:
        assert stack.rendered is not None
        seen = look(stack.prometheus_url, stack.rendered.rules)
        panels = look_dashboards(stack.prometheus_url, stack.dashboards, stack.target.services,
                                 stack.target.name)
        with db_session.connect(stack.exporter_dsn, connect_timeout=5, autocommit=True) as conn:
            kpi_world.insert(conn)
        kpis = wait_kpis(stack.prometheus_url, stack.dashboards, kpi_world.EXPECTED, timeout=4)
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
    assert panels.refused == []
    details = {f.subject: f.detail for f in panels.without_series}
    assert sorted(details) == [
        "SoberTube KPIs / Planted panel (A)",
        "SoberTube stack health / Gateway 5xx share by service (A)",
        "SoberTube stack health / Gateway connections (A)",
        "SoberTube stack health / Gateway requests by service (A)",
        "SoberTube stack health / Newest backup age (A)",
    ]
    # the expression as run: the dashboard's variable given the exporter's address
    assert details["SoberTube KPIs / Planted panel (A)"].startswith(
        'sum(sober_planted_dashboard_series{instance=~"127.0.0.1:')
    assert [f.line() for f in kpis] == [
        "KPI off: Follows (accepted): shows 3, the world holds 2"]
    assert stack.processes == [] and stack.workdir is None  # everything stopped


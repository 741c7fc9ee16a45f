"""The dashboard check's pure parts (soberharness.ops.dashboards, judge): panel queries read from
Grafana's dashboard model, template variables given values, findings from what Prometheus
answered. The live run is suites/ops/test_monitoring.py; its planted defects are in
test_ops_monitoring_planted.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from soberharness.config.composecheck import load_compose
from soberharness.config.k8scheck import OVERLAYS, render
from soberharness.errors import HarnessError
from soberharness.ops import dashboards, judge
from soberharness.ops.checks import look_dashboards
from soberharness.ops.monitoring import MONITORING
from soberharness.targets.base import Service

STACK = MONITORING / "dashboards"


def _write(folder: Path, name: str, model: object) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(model))
    return path


def test_the_stack_ships_a_health_and_a_kpi_dashboard() -> None:
    found = {d.title: d for d in dashboards.load(STACK)}
    assert set(found) == {"SoberTube stack health", "SoberTube KPIs"}
    kpi_panels = {q.panel for q in dashboards.queries(found["SoberTube KPIs"])}
    assert {"Sign-ups (all time)", "Posts (all time)", "Active users (24 h)",
            "Realtime subscribers"} <= kpi_panels
    for dashboard in found.values():
        assert dashboard.model["uid"].startswith("sobertube-")
        names = [v["name"] for v in dashboard.variables()]
        assert names[0] == "datasource"  # every panel reads Prometheus through it
        for panel in dashboard.model["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel


def test_queries_come_from_every_panel_and_row_but_hidden_ones() -> None:
    model = {"title": "D", "panels": [
        {"title": "p", "targets": [{"refId": "A", "expr": "a"}, {"refId": "B", "expr": " "},
                                   {"refId": "C", "expr": "c", "hide": True}]},
        {"type": "row", "title": "r", "panels": [{"title": "q", "targets": [{"expr": "b"}]}]},
    ]}
    board = dashboards.Dashboard(Path("d.json"), model)
    assert [(q.name, q.expr) for q in dashboards.queries(board)] == [
        ("D / p (A)", "a"), ("D / q (A)", "b")]


@pytest.mark.parametrize(("expr", "rendered"), [
    ('up{instance=~"$instance"}', 'up{instance=~"db:9187"}'),
    ('up{instance=~"${instance}"}', 'up{instance=~"db:9187"}'),
    ('up{instance=~"${instance:regex}"}', 'up{instance=~"db:9187"}'),
    ('up{instance=~"[[instance]]"}', 'up{instance=~"db:9187"}'),
    ("rate(x[$__rate_interval]) + rate(y[${__interval}])", "rate(x[1m]) + rate(y[1m])"),
    ('up{job="$unknown"}', 'up{job="$unknown"}'),
])
def test_render_replaces_variables(expr: str, rendered: str) -> None:
    assert dashboards.render(expr, {"instance": "db:9187"}) == rendered


def test_values_ask_prometheus_for_query_variables_and_keep_the_rest() -> None:
    model = {"title": "D", "panels": [], "templating": {"list": [
        {"name": "datasource", "type": "datasource", "current": {"value": "prom"}},
        {"name": "job", "type": "custom", "current": {}, "options": [{"value": "postgres"}]},
        {"name": "instance", "type": "query",
         "query": {"query": 'label_values(pg_up{job="$job"}, instance)'}},
    ]}}
    asked = []

    def label_values(selector: str | None, label: str) -> list[str]:
        asked.append((selector, label))
        return ["b:2", "a:1"]
    got = dashboards.values(dashboards.Dashboard(Path("d.json"), model), label_values)
    assert got == {"datasource": "prom", "job": "postgres", "instance": "a:1"}
    assert asked == [('pg_up{job="postgres"}', "instance")]


@pytest.mark.parametrize(("variable", "message"), [
    ({"name": "v", "type": "query", "query": "query_result(up)"},
     "variable v: only label_values"),
    ({"name": "v", "type": "query", "definition": "label_values(job)"},
     "variable v: label_values(job) has no value"),
    ({"name": "v", "type": "textbox"}, "variable v has no value"),
])
def test_a_variable_without_value_is_one_line(variable: dict[str, object], message: str) -> None:
    board = dashboards.Dashboard(Path("d.json"), {"title": "D", "panels": [],
                                                  "templating": {"list": [variable]}})
    with pytest.raises(HarnessError, match=re.escape(f"dashboard D: {message}")):
        dashboards.values(board, lambda selector, label: [])


def test_load_refuses_what_is_not_a_dashboard(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no dashboard JSON in"):
        dashboards.load(tmp_path)
    _write(tmp_path, "a.json", {"title": "no panels"})
    with pytest.raises(HarnessError, match=re.escape("dashboard a.json: no panels list")):
        dashboards.load(tmp_path)
    (tmp_path / "a.json").write_text("{")
    with pytest.raises(HarnessError, match=re.escape("dashboard a.json: not JSON")):
        dashboards.load(tmp_path)


def test_metrics_of_a_service_the_stack_may_lack() -> None:
    assert dashboards.needed_services("sum(sobertube_realtime_subscribers{x=\"1\"})") == {
        Service.REALTIME}
    assert dashboards.needed_services("sobertube_kpi_posts_total") == set()


def test_panels_without_series_and_kpis_off_are_findings() -> None:
    results = {"D / a (A)": ("a", 2), "D / b (A)": ("b{x=\"1\"}", 0)}
    assert [f.line() for f in judge.panels_without_series(results)] == [
        'panel without series: D / b (A): b{x="1"}']
    found = judge.kpi_mismatches({"Posts": 3, "Users": 2, "Gone": 1},
                                 {"Posts": [3.0], "Users": [2.0, 2.0], "Gone": []})
    assert [f.line() for f in found] == [
        "KPI off: Gone: shows no value, the world holds 1",
        "KPI off: Users: shows 2, 2, the world holds 2"]


def test_grafana_is_provisioned_with_these_dashboards_on_compose_and_k8s() -> None:
    """The provider reads the folder the compose file mounts the dashboards at; the data source
    has the uid the dashboards' `datasource` variable names, and reads $PROMETHEUS_URL, which
    compose sets to Prometheus; k8s carries every dashboard file, byte for byte."""
    compose = load_compose()["services"]["grafana"]
    mounts = dict(str(v).rsplit(":", 1)[0].split(":", 1) for v in compose["volumes"])
    provider = yaml.safe_load((MONITORING / "grafana" / "dashboards" / "sobertube.yml")
                              .read_text())["providers"][0]
    assert mounts["../monitoring/dashboards"] == provider["options"]["path"]
    assert mounts["../monitoring/grafana"] == "/etc/grafana/provisioning"
    source = yaml.safe_load((MONITORING / "grafana" / "datasources" / "prometheus.yml")
                            .read_text())["datasources"][0]
    assert source["url"] == "$PROMETHEUS_URL"
    assert compose["environment"]["PROMETHEUS_URL"] == "http://prometheus:9090"
    for dashboard in dashboards.load(STACK):
        variable = dashboard.variables()[0]
        assert variable["current"]["value"] == source["uid"], dashboard.title
    config = next(d for d in render(OVERLAYS / "aws") if d["kind"] == "ConfigMap"
                  and d["metadata"]["name"] == "sobertube-dashboards")
    assert config["data"] == {p.name: p.read_text() for p in sorted(STACK.glob("*.json"))}


def test_a_dashboard_whose_variable_gets_no_value_is_a_finding(tmp_path: Path) -> None:
    """Its panels are not run (they would query `$instance` as written); the other dashboards
    are. Prometheus is not asked: the variable's query is not one the check renders."""
    _write(tmp_path, "a.json", {"title": "A", "panels": [], "templating": {"list": [
        {"name": "v", "type": "query", "query": "query_result(up)"}]}})
    look = look_dashboards("http://127.0.0.1:9", tmp_path, set(), "here")
    assert look.lines() == ["dashboard variables without value: A: dashboard A: variable v: "
                            "only label_values(...) queries are rendered"]
    assert look.results == {} and look.skipped == {}

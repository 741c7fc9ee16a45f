"""The monitoring check's pure parts: metric names in PromQL, the compose file's listeners, the
rendered config and rules, and the findings from Prometheus's answers."""

from __future__ import annotations

import pytest

from soberharness.ops import deployed, judge, render
from soberharness.ops.gateway import render_gateway


@pytest.mark.parametrize(("expr", "names"), [
    ('up{job="postgres"} == 0 or pg_up{job="postgres", role="primary"} == 0', ["up", "pg_up"]),
    ("min by (stanza) (pgbackrest_backup_since_last_completion_seconds) > 93600",
     ["pgbackrest_backup_since_last_completion_seconds"]),
    ('sum by (service) (rate(http_requests_total{service=~"auth|rest", code=~"5.."}[5m]))',
     ["http_requests_total"]),
    ("increase(pg_stat_archiver_failed_count[10m]) > 0 or pg_stat_archiver_last_archive_age > 9",
     ["pg_stat_archiver_failed_count", "pg_stat_archiver_last_archive_age"]),
    ("sum by (instance) (a_total) / max without (job) (b:rate5m) > 0.8", ["a_total", "b:rate5m"]),
    ('label_replace(x, "dst", "$1", "src", "(.*)") unless on (i) y offset 5m', ["x", "y"]),
])
def test_metric_names(expr: str, names: list[str]) -> None:
    assert judge.metric_names(expr) == names


RULES = {"groups": [{"name": "g", "rules": [
    {"alert": "A", "expr": "a_metric > 1", "for": "5m"},
    {"alert": "B", "expr": "b_metric > 1 or c_metric > 1", "for": "2s"},
    {"alert": "C", "expr": "d_metric > 1"},
    {"record": "r", "expr": "sum(a_metric)"},
]}]}


def test_rules_without_data_only_when_no_metric_has_series() -> None:
    found = judge.rules_without_data(RULES, {"a_metric", "c_metric"})
    assert [f.line() for f in found] == ["rule without data: C: no target exports d_metric"]
    assert judge.partly_without_data(RULES, {"a_metric", "c_metric"}) == {"B": ["b_metric"]}


def test_down_targets_name_the_stack_address() -> None:
    targets = [
        {"health": "up", "labels": {"job": "ok", judge.STACK_ADDRESS: "x:1"}},
        {"health": "down", "lastError": "connection refused",
         "labels": {"job": "gw", judge.STACK_ADDRESS: "gateway:9113", "instance": "127.0.0.1:9"}},
    ]
    assert [f.line() for f in judge.down_targets(targets)] == [
        "target down: gw gateway:9113: connection refused"]


def test_render_maps_addresses_shortens_and_sends_unplayed_nowhere() -> None:
    config = {"global": {"scrape_interval": "15s"}, "rule_files": ["alerts.yml"],
              "scrape_configs": [{"job_name": "j", "scrape_interval": "30s", "static_configs": [
                  {"targets": ["exp:9187", "gone:1"], "labels": {"role": "primary"}}]}]}
    out = render.render(config, RULES, {"exp:9187": "127.0.0.1:5"}, render.Timing(1, 4),
                        "127.0.0.1:7", nowhere="127.0.0.1:9")
    assert out.unmapped == ["j: gone:1"]
    job = out.config["scrape_configs"][0]
    assert "scrape_interval" not in job
    assert job["static_configs"] == [
        {"targets": ["127.0.0.1:5"], "labels": {"role": "primary", "stack_address": "exp:9187"}},
        {"targets": ["127.0.0.1:9"], "labels": {"role": "primary", "stack_address": "gone:1"}}]
    assert out.config["global"]["scrape_interval"] == "1s"
    assert out.config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "127.0.0.1:7"]
    assert out.shortened == {"A": ("5m", "4s")}  # B's 2s is already short; C has none
    assert render.alert_for(out.rules, "A") == 4.0
    assert render.alert_for(RULES, "A") == 300.0  # the stack's own rules are left alone


@pytest.mark.parametrize(("text", "value"), [("1m", 60), ("1h30m", 5400), ("250ms", 0.25)])
def test_durations(text: str, value: float) -> None:
    assert render.seconds(text) == value


def test_bad_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        render.seconds("5 minutes")


TEMPLATE = "server {\n    listen 8000;\n}\nserver {\n    listen 127.0.0.1:8080;\n}\n"


def test_listeners_follow_network_namespaces_and_images() -> None:
    compose = {"services": {
        "gateway": {"image": "nginx:1.27.4-alpine"},
        "gateway-exporter": {"image": "nginx/nginx-prometheus-exporter:0.11.0",
                             "network_mode": "service:gateway"},
        "postgres-exporter": {"image": "quay.io/prometheuscommunity/postgres-exporter:v0.15.0"},
        "prometheus": {"image": "prom/prometheus:v2.42.0"},
        "db": {"image": "supabase/postgres:15.8.1.085"},
    }}
    found = deployed.listeners(compose, TEMPLATE)
    assert {a: (lst.service, lst.role) for a, lst in found.items()} == {
        "gateway:8000": ("gateway", "gateway"), "gateway:8080": ("gateway", "gateway"),
        "gateway:9113": ("gateway-exporter", "nginx-exporter"),
        "postgres-exporter:9187": ("postgres-exporter", "postgres-exporter"),
        "prometheus:9090": ("prometheus", "prometheus"),
        "localhost:9090": ("prometheus", "prometheus"),
    }
    exporter = compose["services"]["gateway-exporter"]
    assert deployed.in_network("127.0.0.1:8080", "gateway-exporter", exporter) == "gateway:8080"
    assert deployed.in_network("other:1", "gateway-exporter", exporter) == "other:1"


def test_without_the_exporter_nothing_answers_at_gateway_9113() -> None:
    found = deployed.listeners({"services": {"gateway": {"image": "nginx:1.27"}}}, TEMPLATE)
    assert "gateway:9113" not in found


def test_command_flag() -> None:
    service = {"command": ["-nginx.scrape-uri=http://127.0.0.1:8080/stub_status", "-x"]}
    assert deployed.command_flag(service, "nginx.scrape-uri") == \
        "http://127.0.0.1:8080/stub_status"
    assert deployed.command_flag(service, "web.listen-address") is None


def test_render_gateway_moves_every_listen_to_loopback_ports() -> None:
    text = render_gateway(TEMPLATE + "map $x ${ANON_KEY};\n", {"ANON_KEY": "k"},
                          {8000: 41000, 8080: 42000})
    assert "listen 127.0.0.1:41000;" in text and "listen 127.0.0.1:42000;" in text
    assert "${ANON_KEY}" not in text and "map $x k;" in text


def test_age_thresholds_of_an_hour_or_more_are_shortened_and_said() -> None:
    rules = {"groups": [{"rules": [
        {"alert": "Old", "expr": "min by (s) (x_since_seconds) > 93600"},
        {"alert": "Lag", "expr": "pg_replication_lag_seconds > 30"},
        {"alert": "Count", "expr": "rate(y_total[5m]) > 7200"}]}]}
    changed = render.shorten_ages(rules, render.Timing(age_s=8))
    assert changed == {"Old": (93600.0, 8.0)}
    assert [r["expr"] for r in rules["groups"][0]["rules"]] == [
        "min by (s) (x_since_seconds) > 8", "pg_replication_lag_seconds > 30",
        "rate(y_total[5m]) > 7200"]


def test_named_volumes_and_command_values_of_a_service() -> None:
    service = {"volumes": ["./conf:/etc/x:ro", "logs:/var/log/app:ro", "deep:/var/log/app/d"],
               "command": ["-logs", "/var/log/app/a.log", "-port", "3903"]}
    assert deployed.volume_at(service, "/var/log/app/a.log") == ("logs", "a.log")
    assert deployed.volume_at(service, "/var/log/app/d/b.log") == ("deep", "b.log")
    assert deployed.volume_at(service, "/etc/x/y") is None  # a bind mount, not a volume
    assert deployed.command_value(service, "logs") == "/var/log/app/a.log"
    assert deployed.command_value(service, "progs") is None

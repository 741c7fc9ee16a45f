"""Monitoring end to end (seed 5.1.1, 5.1.3, 1.2.5): the stack's own prometheus.yml and alert
rules, rendered for this machine, on a real Prometheus scraping the real exporters (Debian's
postgres and nginx exporters, the gateway's nginx with the stack's template); Alertmanager
routes to a webhook receiver here.

The rendered copy scrapes and evaluates every second and shortens each `for:` to 4 s (the
stack's are 1 to 10 minutes); the report of a run says so (stack.rendered.shortened).

Dashboards (5.1.2, 5.1.5): every panel query of stack/monitoring/dashboards, its template
variables given values Prometheus has, runs as an instant query on that Prometheus and must
return series; the KPI panels show the counts of a small world the test inserts.
"""

from __future__ import annotations

import time

import pytest

from soberharness.config.envcheck import TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.db import session as db_session
from soberharness.ops import dashboards, gaps, kpi_world, promapi
from soberharness.ops.checks import LiveMonitoring, panel_values, wait_kpis
from soberharness.ops.render import alert_for
from soberharness.ops.traffic import RequestStream
from soberharness.report.run_report import RunReport

# Stacks of the suite's own on this machine, not the selected target (report.verdict).
pytestmark = [pytest.mark.destructive, pytest.mark.target_independent]


def test_every_scrape_target_of_the_stack_is_up(monitoring: LiveMonitoring) -> None:
    """Each address prometheus.yml names is played by a process here and answers."""
    assert monitoring.stack.rendered is not None
    assert monitoring.stack.rendered.unmapped == []
    jobs = {t["labels"]["job"] for t in monitoring.first.targets}
    assert jobs == {"prometheus", "postgres", "gateway", "gateway-requests"}
    assert [f.line() for f in monitoring.first.down] == []


def test_the_gateway_exporter_reads_the_real_nginx(monitoring: LiveMonitoring) -> None:
    """nginx_up is 1: the exporter reached the gateway's stub_status page (the template's
    loopback server) and nginx counted connections."""
    up = promapi.instant(monitoring.stack.prometheus_url, 'nginx_up{job="gateway"}')
    assert [value for _, value in up] == [1.0]
    accepted = promapi.instant(monitoring.stack.prometheus_url,
                               'nginx_connections_accepted{job="gateway"}')
    assert accepted and accepted[0][1] >= 1


def test_rules_without_data_are_exactly_the_known_gaps(monitoring: LiveMonitoring) -> None:
    """Every alert rule has data from some target, except those soberharness.ops.gaps names
    with their reason (then listed as not done on the issue)."""
    without = {f.subject for f in monitoring.first.without_data}
    assert without == set(gaps.UNEXPORTED), monitoring.first.lines()


def test_gateway_5xx_fire_service_high_5xx_rate(monitoring: LiveMonitoring,
                                               run_report: RunReport) -> None:
    """Requests to the REST route while PostgREST is gone: the gateway answers 502, mtail
    counts them from its request log as http_requests_total{service="rest", code="502"}, and
    ServiceHigh5xxRate reaches the receiver within its (shortened) `for:` plus two scrapes,
    one evaluation and 5 s once 5xx flow."""
    stack = monitoring.stack
    assert stack.rendered is not None
    assert monitoring.receiver.first("ServiceHigh5xxRate") is None  # quiet before
    key = read_env_file(TEMPLATES["local"])["ANON_KEY"]
    interval = stack.timing.interval_s
    budget = alert_for(stack.rendered.rules, "ServiceHigh5xxRate") + 3 * interval + 5
    began = time.monotonic()
    with RequestStream(stack.gateway_url + "/rest/v1/profiles", {"apikey": key}) as stream:
        got = monitoring.receiver.wait_for("ServiceHigh5xxRate", timeout=budget + 10,
                                           after=began)
    assert set(stream.statuses) == {502}, (stream.statuses, stream.errors[:3])
    assert got is not None, f"ServiceHigh5xxRate not received within {budget + 10:.0f} s"
    delay = got.at - began
    run_report.notes["monitoring end to end"]["ServiceHigh5xxRate"] = {
        "received after (s)": round(delay, 1), "budget (s)": budget,
        "requests sent": sum(stream.statuses.values())}
    assert delay <= budget, f"received after {delay:.1f} s, budget {budget:.1f} s"
    assert got.labels.get("service") == "rest"
    counted = promapi.instant(stack.prometheus_url,
                              'http_requests_total{job="gateway-requests",code="502"}')
    assert [labels.get("service") for labels, _ in counted] == ["rest"]


def test_an_old_backup_fires_postgres_backup_too_old(monitoring: LiveMonitoring,
                                                     run_report: RunReport) -> None:
    """The exporter reports the age of the stack's newest pgBackRest backup (read from
    `pgbackrest info` by monitoring.pgbackrest_backup_ages()); once older than the rule's
    (rendered) threshold, PostgresBackupTooOld reaches the receiver, not before; a fresh
    backup resolves it."""
    stack = monitoring.stack
    assert stack.rendered is not None and stack.backups is not None
    ages = promapi.instant(stack.prometheus_url,
                           "pgbackrest_backup_since_last_completion_seconds")
    assert [labels.get("stanza") for labels, _ in ages] == ["sobertube"]
    assert abs(ages[0][1] - (time.time() - stack.backed_up_at)) < 3 * stack.timing.interval_s + 2
    old_s = stack.rendered.thresholds["PostgresBackupTooOld"][1]
    due = stack.backed_up_at + old_s + alert_for(stack.rendered.rules, "PostgresBackupTooOld")
    budget = 3 * stack.timing.interval_s + 5
    got = monitoring.receiver.wait_for("PostgresBackupTooOld",
                                       timeout=max(0.0, due - time.time()) + budget + 10)
    assert got is not None, "PostgresBackupTooOld not received"
    at = time.time() - (time.monotonic() - got.at)  # its arrival, as epoch seconds
    run_report.notes["monitoring end to end"]["PostgresBackupTooOld"] = {
        "received after the backup (s)": round(at - stack.backed_up_at, 1),
        "due after (s)": round(due - stack.backed_up_at, 1), "budget (s)": budget}
    assert due - 1 <= at <= due + budget, (at - stack.backed_up_at, due - stack.backed_up_at)
    assert got.labels.get("stanza") == "sobertube"
    fresh = time.monotonic()
    stack.backups.backup()
    resolved = monitoring.receiver.wait_for("PostgresBackupTooOld", timeout=budget + 10,
                                            after=fresh, status="resolved")
    assert resolved is not None, "a fresh backup did not resolve PostgresBackupTooOld"


REALTIME_PANEL = "SoberTube KPIs / Realtime subscribers (A)"


def test_every_dashboard_panel_returns_series(monitoring: LiveMonitoring,
                                              run_report: RunReport) -> None:
    """Each panel query of each dashboard, run on the live Prometheus, returns a series; none
    is refused. Skipped only: panels on a metric a service the stack lacks exports (named)."""
    look = monitoring.dashboards
    written = [q.name for d in dashboards.load(monitoring.stack.dashboards)
               for q in dashboards.queries(d)]
    assert sorted([*look.results, *look.skipped]) == sorted(written)  # every one was run
    assert len(written) >= 18
    assert look.lines() == []
    assert all("lacks" in reason for reason in look.skipped.values()), look.skipped
    run_report.notes["monitoring end to end"]["dashboard panels skipped"] = look.skipped


def test_realtime_subscribers_panel_has_series(monitoring: LiveMonitoring) -> None:
    """Realtime subscribers come from realtime.subscription, a table of the Realtime server's
    own migrations: a stack without Realtime has no such series, and this panel is skipped."""
    reason = monitoring.dashboards.skipped.get(REALTIME_PANEL)
    if reason is not None:
        pytest.skip(f"{REALTIME_PANEL}: {reason}")
    assert monitoring.dashboards.results[REALTIME_PANEL][1] >= 1


def test_kpi_panels_show_the_worlds_counts(own_monitoring: LiveMonitoring,
                                           run_report: RunReport) -> None:
    """On a stack holding nothing, every KPI panel shows 0; once a small world is in (three
    accounts, three posts, three follows: soberharness.ops.kpi_world), each shows the count
    written out by hand for it, within three scrapes and 5 s. A stack of its own: the
    module's may have lost its PostgreSQL to an earlier test."""
    stack = own_monitoring.stack
    before = panel_values(stack.prometheus_url, stack.dashboards, kpi_world.EXPECTED)
    assert before == {title: [0.0] for title in kpi_world.EXPECTED}
    with db_session.connect(stack.exporter_dsn, connect_timeout=5, autocommit=True) as conn:
        kpi_world.insert(conn)
    began = time.monotonic()
    found = wait_kpis(stack.prometheus_url, stack.dashboards, kpi_world.EXPECTED,
                      timeout=3 * stack.timing.interval_s + 5)
    assert [f.line() for f in found] == []
    run_report.notes.setdefault("monitoring end to end", {})["KPI panels agreed after (s)"] = (
        round(time.monotonic() - began, 1))


def test_postgres_primary_down_reaches_the_receiver(monitoring: LiveMonitoring,
                                                    run_report: RunReport) -> None:
    """Stop the stack's PostgreSQL: PostgresPrimaryDown reaches the webhook receiver within
    its (shortened) `for:` plus one scrape and one evaluation, with 5 s for Prometheus and
    Alertmanager to hand it on."""
    stack = monitoring.stack
    assert stack.rendered is not None
    assert monitoring.receiver.first("PostgresPrimaryDown") is None  # quiet while it runs
    interval = stack.timing.interval_s
    budget = alert_for(stack.rendered.rules, "PostgresPrimaryDown") + 2 * interval + 5
    stopped = time.monotonic()
    stack.pg.stop()
    got = monitoring.receiver.wait_for("PostgresPrimaryDown", timeout=budget + 10, after=stopped)
    assert got is not None, f"PostgresPrimaryDown not received within {budget + 10:.0f} s"
    delay = got.at - stopped
    run_report.notes["monitoring end to end"]["PostgresPrimaryDown"] = {
        "received after (s)": round(delay, 1), "budget (s)": budget}
    assert delay <= budget, f"received after {delay:.1f} s, budget {budget:.1f} s"
    assert got.labels.get("severity") == "critical"
    assert got.labels.get("role") == "primary"

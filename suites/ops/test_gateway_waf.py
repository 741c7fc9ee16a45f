"""The gateway's web application firewall (seed 5.2.3) on a real nginx with the stack's
template and rules file (ModSecurity 3, OWASP CRS 3.3, from Debian): SQL injection, XSS and
path traversal probes are refused (403) before they reach a service; requests of the kinds
the suites send (PostgREST reads and writes with filters, sign-in, an upload, a public read)
pass. Behind nginx, a stand-in answering 200 to every method (soberharness.ops.waf)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from soberharness.config.envcheck import TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.ops import tools, waf
from soberharness.ops.gateway import Gateway
from soberharness.report.run_report import RunReport

# The stack's gateway file on an nginx of the test's own, not the selected target.
pytestmark = pytest.mark.target_independent

ENV = read_env_file(TEMPLATES["local"])
HEADERS = {"apikey": ENV["ANON_KEY"], "Authorization": f"Bearer {ENV['ANON_KEY']}"}
UPSTREAMS = ("auth", "rest", "storage")


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory, run_report: RunReport
         ) -> Iterator[tuple[dict[str, waf.Answer], waf.AnyUpstream]]:
    reason = tools.missing("nginx") or waf.missing()
    if reason:
        pytest.skip(reason)
    began = time.monotonic()
    with waf.AnyUpstream() as upstream, Gateway(
            tmp_path_factory.mktemp("gateway"), ENV,
            {name: upstream.address for name in UPSTREAMS}) as gw:
        statuses = waf.send(gw.url, waf.ATTACKS + waf.LEGITIMATE, HEADERS)
        run_report.notes["gateway waf"] = {"statuses": {k: a.status for k, a in statuses.items()},
                                           "seconds": round(time.monotonic() - began, 1)}
        yield statuses, upstream


def test_probes_are_blocked_and_the_suites_requests_pass(
        sent: tuple[dict[str, waf.Answer], waf.AnyUpstream]) -> None:
    statuses, _ = sent
    assert waf.findings(waf.ATTACKS + waf.LEGITIMATE, statuses) == []


def test_legitimate_requests_reach_the_services(
        sent: tuple[dict[str, waf.Answer], waf.AnyUpstream]) -> None:
    statuses, upstream = sent
    assert {statuses[p.name].status for p in waf.LEGITIMATE} == {200}
    assert sum(upstream.hits.values()) == len(waf.LEGITIMATE)  # no probe got through

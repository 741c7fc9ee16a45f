"""Planted defect the gateway's WAF check (suites/ops/test_gateway_waf.py) must report: the
rules file with the core rule set's XSS rules taken out lets exactly the two XSS probes
through to the service; the judge alone, on answers made up here, names both kinds of
finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.config.envcheck import TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.ops import tools, waf
from soberharness.ops.gateway import GATEWAY_TEMPLATE, Gateway

ENV = read_env_file(TEMPLATES["local"])
HEADERS = {"apikey": ENV["ANON_KEY"]}


def test_planted_rules_without_xss_let_the_xss_probes_through(tmp_path: Path) -> None:
    reason = tools.missing("nginx") or waf.missing()
    if reason:
        pytest.skip(reason)
    rules = tmp_path / "modsecurity.conf"
    rules.write_text(waf.RULES.read_text() + "\nSecRuleRemoveByTag attack-xss\n")
    template = GATEWAY_TEMPLATE.read_text().replace(waf.RULES_IN_IMAGE, str(rules))
    assert str(rules) in template
    with waf.AnyUpstream() as upstream, Gateway(
            tmp_path / "gateway", ENV, {n: upstream.address for n in ("auth", "rest", "storage")},
            template=template) as gw:
        answers = waf.send(gw.url, waf.ATTACKS + waf.LEGITIMATE, HEADERS)
    got = waf.findings(waf.ATTACKS + waf.LEGITIMATE, answers)
    assert [line.split(" (", 1)[0] for line in got] == [
        "let through: xss in a query", "let through: xss in a JSON body"], got


def test_the_judge_names_let_through_and_blocked() -> None:
    attack, legit = waf.ATTACKS[0], waf.LEGITIMATE[0]
    answers = {attack.name: waf.Answer(200, True), legit.name: waf.Answer(403, False)}
    assert [line.split(" (", 1)[0] for line in waf.findings([attack, legit], answers)] == [
        f"let through: {attack.name}", f"blocked: legitimate {legit.name}"]
    fine = {attack.name: waf.Answer(403, False), legit.name: waf.Answer(200, True)}
    assert waf.findings([attack, legit], fine) == []

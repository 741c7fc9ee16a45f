"""Planted defect the gateway's rate-limit check (suites/ops/test_gateway_limits.py) must
report: the template without its per-address limit lets one address through without a 429."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from soberharness.config.envcheck import TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.ops import tools
from soberharness.ops.gateway import GATEWAY_TEMPLATE, Gateway, Limit, OkUpstream, limit_findings

ENV = read_env_file(TEMPLATES["local"])


def test_planted_missing_per_address_limit_is_reported(tmp_path: Path) -> None:
    reason = tools.missing("nginx")
    if reason:
        pytest.skip(reason)
    text = GATEWAY_TEMPLATE.read_text()
    broken = text.replace("    limit_req zone=sober_per_ip burst=100 nodelay;\n", "")
    assert broken != text
    with OkUpstream() as upstream, Gateway(tmp_path, ENV, {"rest": upstream.address},
                                           {"sober_per_key": Limit(100, 100)},
                                           template=broken) as gw, \
            httpx.Client(base_url=gw.url, timeout=5.0) as client:
        statuses = [client.get("/rest/v1/posts", headers={
            "apikey": ENV["ANON_KEY"], "X-Forwarded-For": "198.51.100.7"}).status_code
            for _ in range(20)]
    assert limit_findings("per address", statuses, 6) == [
        "per address: never limited: no 429 in 20 requests"]


def test_limit_findings_judge() -> None:
    assert limit_findings("x", [200] * 6 + [429] * 4, 6) == []
    assert limit_findings("x", [200, 429, 200, 200, 200, 200, 429], 6) == [
        "x: refused within its burst ([200, 429, 200, 200, 200, 200])"]

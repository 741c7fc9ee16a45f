"""Planted defect the gateway's TLS check (suites/ops/test_gateway_tls.py) must report: a
certificate that also names *.sobertube.test lets a client expecting the database's name
(db.sobertube.test) complete its handshake with the gateway: exactly that wrong name."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.config.envcheck import TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.ops import tls, tools
from soberharness.ops.gateway import Gateway

ENV = read_env_file(TEMPLATES["local"])
WRONG = ("db.sobertube.test", "sobertube.test", "localhost")


def test_planted_wildcard_certificate_is_reported(tmp_path: Path) -> None:
    reason = tools.missing("nginx")
    if reason:
        pytest.skip(reason)
    ca = tls.make_test_ca(tmp_path / "tls", names=(tls.HOST, "*.sobertube.test"))
    with Gateway(tmp_path / "gateway", ENV, {}, ca=ca) as gw:
        right = tls.handshake(gw.tls_port, ca.ca_file, tls.HOST)
        refusals = {name: tls.handshake(gw.tls_port, ca.ca_file, name) for name in WRONG}
        plain = tls.plain_status(gw.tls_port)
    assert tls.findings(right, refusals, plain) == [
        "wrong host name accepted: db.sobertube.test"]


def test_the_judge_names_a_refused_own_name_and_plain_http() -> None:
    assert tls.findings("SSLError: x", {}, "HTTP/1.1 200 OK") == [
        f"refused its own name {tls.HOST}: SSLError: x",
        "plain HTTP served on the TLS port: HTTP/1.1 200 OK"]

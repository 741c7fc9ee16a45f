"""TLS on the gateway (seed 1.1.3, 5.2.1) on a real nginx with the stack's template and a
test CA: a client verifying the gateway's name (gateway.sobertube.test) is served; one
expecting another name is refused by its own verification (the certificate names only the
gateway); plain HTTP on the TLS port is not served (nginx answers 400)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soberharness.config.envcheck import TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.ops import tls, tools
from soberharness.ops.gateway import Gateway

# The stack's gateway file on an nginx of the test's own, not the selected target.
pytestmark = pytest.mark.target_independent

ENV = read_env_file(TEMPLATES["local"])
WRONG = ("db.sobertube.test", "sobertube.test", "localhost")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    reason = tools.missing("nginx")
    if reason:
        pytest.skip(reason)
    with Gateway(tmp_path_factory.mktemp("gateway"), ENV, {}) as gw:
        yield gw


def test_tls_serves_the_gateways_name_and_nothing_else(gateway: Gateway) -> None:
    right = tls.handshake(gateway.tls_port, gateway.ca.ca_file, tls.HOST)
    refusals = {name: tls.handshake(gateway.tls_port, gateway.ca.ca_file, name)
                for name in WRONG}
    assert tls.findings(right, refusals, tls.plain_status(gateway.tls_port)) == []
    assert all("CERTIFICATE_VERIFY_FAILED" in why and "Hostname mismatch" in why
               for why in refusals.values()), refusals


def test_plain_http_on_the_tls_port_is_refused(gateway: Gateway) -> None:
    assert tls.plain_status(gateway.tls_port).startswith("HTTP/1.1 400")

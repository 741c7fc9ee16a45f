"""Planted defects the gateway's cache check (suites/ops/test_gateway_cache.py) must report,
each as exactly its probe:
- the public objects' cache without its credential rule (no proxy_no_cache/bypass): a signed-in
  reader's response is stored and served from the cache;
- the cache turned on for every Storage route: a private object is served from the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.config.envcheck import TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.ops import tools
from soberharness.ops.gateway import GATEWAY_TEMPLATE, Gateway
from soberharness.ops.gateway_cache import PROBES, ObjectUpstream, findings, probe

ENV = read_env_file(TEMPLATES["local"])


def _findings(tmp_path: Path, template: str) -> list[str]:
    reason = tools.missing("nginx")
    if reason:
        pytest.skip(reason)
    with ObjectUpstream() as upstream, Gateway(tmp_path, ENV, {"storage": upstream.address},
                                               template=template) as gw:
        return findings([probe(gw.url, upstream, p) for p in PROBES])


def test_planted_cache_of_authenticated_responses_is_reported(tmp_path: Path) -> None:
    text = GATEWAY_TEMPLATE.read_text()
    broken = text.replace("        proxy_cache_bypass $sober_has_credentials;\n", "").replace(
        "        proxy_no_cache $sober_has_credentials;\n", "")
    assert broken.count("$sober_has_credentials") == text.count("$sober_has_credentials") - 2
    got = _findings(tmp_path, broken)
    assert [line.split(":", 2)[:2] for line in got] == [
        ["served from the cache", " public avatar read signed in (/storage/v1/object/public/"
         "avatars/u2/avatar.png)"]], got


def test_planted_cache_of_private_objects_is_reported(tmp_path: Path) -> None:
    text = GATEWAY_TEMPLATE.read_text()
    anchor = "    location /storage/v1/ {\n"
    broken = text.replace(anchor, anchor + "        proxy_cache sober_public;\n"
                          "        proxy_cache_valid 200 10m;\n")
    assert broken != text
    got = _findings(tmp_path, broken)
    assert [line.split(" (", 1)[0] for line in got] == [
        "served from the cache: private object", "served from the cache: private object"], got
    assert "/object/authenticated/private-files/" in got[0]
    assert "/object/private-files/" in got[1]

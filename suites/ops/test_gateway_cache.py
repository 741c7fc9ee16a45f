"""The gateway's cache of public objects (seed 2.2.6) on a real nginx with the stack's
template: a public avatar (and its rendition) is read from the cache the second time
(X-Cache-Status: HIT, one read reaching the Storage API); a private object and any response to
a signed-in reader never are (a cached private response is a leak). Behind nginx, a Storage
API stand-in that marks every object cacheable (soberharness.ops.gateway_cache)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soberharness.config.envcheck import TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.ops import tools
from soberharness.ops.gateway import Gateway
from soberharness.ops.gateway_cache import PROBES, ObjectUpstream, Seen, findings, probe

# The stack's gateway file on an nginx of the test's own, not the selected target.
pytestmark = pytest.mark.target_independent

ENV = read_env_file(TEMPLATES["local"])


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Seen]]:
    reason = tools.missing("nginx")
    if reason:
        pytest.skip(reason)
    with ObjectUpstream() as upstream, Gateway(tmp_path_factory.mktemp("gateway"), ENV,
                                               {"storage": upstream.address}) as gw:
        yield {p.name: probe(gw.url, upstream, p) for p in PROBES}


def test_the_cache_keeps_public_objects_and_nothing_private(seen: dict[str, Seen]) -> None:
    assert findings(list(seen.values())) == []


def test_a_public_avatar_is_a_hit_on_its_second_read(seen: dict[str, Seen]) -> None:
    avatar = seen["public avatar"]
    assert avatar.statuses == [200, 200]
    assert avatar.cache_statuses == ["MISS", "HIT"]
    assert avatar.upstream_reads == 1


def test_a_private_object_is_never_cached(seen: dict[str, Seen]) -> None:
    for name in ("private object (authenticated route)", "private object (object route)"):
        private = seen[name]
        assert private.statuses == [200, 200, 200]
        assert "HIT" not in private.cache_statuses
        assert private.upstream_reads == 3


def test_a_signed_in_readers_response_is_not_stored(seen: dict[str, Seen]) -> None:
    """Read twice with a user's token (BYPASS), then anonymously: nothing was stored for it."""
    signed_in = seen["public avatar read signed in"]
    assert signed_in.cache_statuses == ["BYPASS", "BYPASS", "MISS"]
    assert signed_in.upstream_reads == 3

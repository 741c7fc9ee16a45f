"""The gateway's cache of public objects (seed 2.2.6), probed on a real nginx: each probe
reads a path twice (a signed-in reader's probe also a third time, anonymously) and the
Storage stand-in behind it counts what reached it. Findings (pure): a public object not
served from the cache on its second read, and any private object or authenticated response
served from it (a cached private response is a leak).

The stand-in answers every object with `Cache-Control: max-age=3600`, as the Storage API does
for private objects too: the gateway must not store them whatever the upstream says.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Mapping, Sequence

import httpx

from soberharness.ops.loopback_server import LoopbackServer, QuietHandler

TIMEOUT_S = 5.0
USER_TOKEN = {"Authorization": "Bearer a-signed-in-readers-token"}


@dataclasses.dataclass(frozen=True)
class Probe:
    name: str
    path: str  # through the gateway
    headers: Mapping[str, str]
    cacheable: bool


PROBES: tuple[Probe, ...] = (
    Probe("public avatar", "/storage/v1/object/public/avatars/u1/avatar.png", {}, True),
    Probe("public avatar rendition",
          "/storage/v1/render/image/public/avatars/u1/avatar.png?width=64", {}, True),
    Probe("public avatar read signed in", "/storage/v1/object/public/avatars/u2/avatar.png",
          USER_TOKEN, False),
    Probe("private object (authenticated route)",
          "/storage/v1/object/authenticated/private-files/u1/doc.pdf", USER_TOKEN, False),
    Probe("private object (object route)", "/storage/v1/object/private-files/u1/doc.pdf",
          USER_TOKEN, False),
)


@dataclasses.dataclass
class Seen:
    probe: Probe
    cache_statuses: list[str]  # X-Cache-Status of each read ("" when absent)
    statuses: list[int]
    upstream_reads: int


class ObjectUpstream(LoopbackServer):
    """A Storage API stand-in (the gateway is under test): every object answers 200 with a
    body naming its path and `Cache-Control: max-age=3600`; reads are counted per path."""

    def __init__(self) -> None:
        self.reads: collections.Counter[str] = collections.Counter()
        outer = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.reads[self.path.split("?", 1)[0]] += 1
                body = self.path.encode()
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Cache-Control", "max-age=3600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler, "object-upstream")


def upstream_path(path: str) -> str:
    """What the gateway asks the Storage API for (its /storage/v1 prefix stripped)."""
    return path.split("?", 1)[0].removeprefix("/storage/v1")


def probe(gateway_url: str, upstream: ObjectUpstream, one: Probe) -> Seen:
    reads = [dict(one.headers), dict(one.headers)] + ([{}] if one.headers else [])
    seen = Seen(one, [], [], 0)
    with httpx.Client(base_url=gateway_url, timeout=TIMEOUT_S, trust_env=False) as client:
        for headers in reads:
            response = client.get(one.path, headers=headers)
            seen.statuses.append(response.status_code)
            seen.cache_statuses.append(response.headers.get("X-Cache-Status", ""))
    seen.upstream_reads = upstream.reads[upstream_path(one.path)]
    return seen


def findings(seen: Sequence[Seen]) -> list[str]:
    out = []
    for s in seen:
        where = f"{s.probe.name} ({s.probe.path})"
        if s.probe.cacheable:
            if s.cache_statuses[1:2] != ["HIT"] or s.upstream_reads != 1:
                out.append(f"not cached: {where}: X-Cache-Status {s.cache_statuses}, "
                           f"{s.upstream_reads} reads reached the Storage API")
        elif "HIT" in s.cache_statuses or s.upstream_reads < len(s.statuses):
            out.append(f"served from the cache: {where}: X-Cache-Status {s.cache_statuses}, "
                       f"{s.upstream_reads} of {len(s.statuses)} reads reached the Storage API")
    return out

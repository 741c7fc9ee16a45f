"""The stack's gateway (stack/compose/nginx/gateway.conf.template) on a real nginx here: the
nginx image's envsubst step done, each `listen` moved to a 127.0.0.1 port, upstreams pointed
where a test says, rate limits optionally scaled down (a test cannot send 500 requests a second
on two shared cores; the rendered copy says what it changed)."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path

from soberharness.errors import HarnessError
from soberharness.ops import tls, tools, waf
from soberharness.ops.loopback_server import LoopbackServer, QuietHandler
from soberharness.targets.services.process import ManagedProcess, free_port, tcp_ready
from soberharness.targets.services.tools import REPO_ROOT

GATEWAY_TEMPLATE = REPO_ROOT / "stack" / "compose" / "nginx" / "gateway.conf.template"
_ZONE = re.compile(r"limit_req_zone\s+\S+\s+zone=(\w+):\w+\s+rate=(\d+)r/s;")
_LIMIT = re.compile(r"limit_req\s+zone=(\w+)\s+burst=(\d+)")


def worker_user() -> str:
    """As root, nginx's workers stay root: they write the cache in the prefix, a folder only
    root may enter (a test's temporary folder); otherwise they are the caller anyway."""
    return "user root;\n" if os.geteuid() == 0 else ""


def nginx_main(prefix: Path, include: str) -> Path:
    """A main nginx.conf in `prefix` including the rendered server config (already written
    there) at http level, loading the WAF module when the config uses it."""
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{worker_user()}{waf.load_lines((prefix / include).read_text())}"
        "pid nginx.pid;\nworker_processes 1;\nerror_log stderr;\nevents {}\n"
        "http {\n"
        "  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy;\n"
        "  fastcgi_temp_path tmp/fcgi; uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;\n"
        f"  access_log off;\n  include {include};\n}}\n")
    return conf


def render_gateway(template: str, env: Mapping[str, str], ports: Mapping[int, int]) -> str:
    """The nginx image's envsubst step, each `listen N` moved to 127.0.0.1:ports[N], the
    cache's folder into nginx's prefix, and the WAF's rules file read from this repository."""
    text = re.sub(r"\$\{([A-Z_][A-Z0-9_]*)\}", lambda m: env.get(m.group(1), m.group(0)),
                  template)
    for inside, local in ports.items():
        text = re.sub(rf"(^\s*listen\s+)(?:[\w.]+:)?{inside}\b", rf"\g<1>127.0.0.1:{local}",
                      text, flags=re.M)
    return waf.rules_here(cache_in_prefix(text))


def cache_in_prefix(text: str) -> str:
    """Each `proxy_cache_path /dir/name` made `tmp/name` in nginx's prefix (the folder of its
    temporary files)."""
    return re.sub(r"(proxy_cache_path\s+)/(?:[^\s;]*/)?([^/\s;]+)", r"\g<1>tmp/\g<2>", text)


def logs_in_prefix(text: str) -> str:
    """Each `access_log /dir/name ...` file made `name` in nginx's prefix (relative paths are
    the prefix's): the image's log folders do not exist here."""
    return re.sub(r"(access_log\s+)/(?:[^\s;]*/)?([^/\s;]+)", r"\g<1>\g<2>", text)


def upstream_names(text: str) -> list[str]:
    """The upstreams a gateway config sets (`set $<name>_upstream host:port;`)."""
    return re.findall(r"set \$(\w+)_upstream ", text)


def point_upstreams(text: str, upstreams: Mapping[str, str]) -> str:
    for name, address in upstreams.items():
        text, count = re.subn(rf"set \${name}_upstream [^;]+;", f"set ${name}_upstream {address};",
                              text)
        if count != 1:
            raise HarnessError(f"gateway template: no single upstream ${name}_upstream")
    return text


@dataclasses.dataclass(frozen=True)
class Limit:
    rate_per_s: int
    burst: int


def limits(text: str) -> dict[str, Limit]:
    """zone -> its rate and the burst the API server allows it."""
    rates = dict(_ZONE.findall(text))
    bursts = dict(_LIMIT.findall(text))
    return {zone: Limit(int(rate), int(bursts[zone])) for zone, rate in rates.items()
            if zone in bursts}


def scale_limits(text: str, wanted: Mapping[str, Limit]) -> str:
    """Each named zone's rate and burst set to `wanted` (the rest of the config unchanged)."""
    for zone, limit in wanted.items():
        text, zones = re.subn(rf"(zone={zone}:\w+\s+rate=)\d+r/s", rf"\g<1>{limit.rate_per_s}r/s",
                              text)
        text, uses = re.subn(rf"(limit_req\s+zone={zone}\s+burst=)\d+", rf"\g<1>{limit.burst}",
                             text)
        if zones != 1 or uses != 1:
            raise HarnessError(f"gateway template: zone {zone} not declared and used once")
    return text


class OkUpstream(LoopbackServer):
    """An upstream that answers 200 to every request (the gateway's behaviour is under test,
    not a service behind it); counts what reached it."""

    def __init__(self) -> None:
        self.hits = 0
        outer = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        super().__init__(Handler, "ok-upstream")


class Gateway:
    """The rendered gateway on nginx in `folder`; `url` is its API server. Context manager."""

    def __init__(self, folder: Path, env: Mapping[str, str], upstreams: Mapping[str, str],
                 scaled: Mapping[str, Limit] | None = None,
                 template: str | None = None, ca: tls.GatewayCA | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.tls_port = free_port()
        self.ca = ca or tls.make_test_ca(folder / "tls")
        text = template if template is not None else GATEWAY_TEMPLATE.read_text()
        text = render_gateway(text, env, {8000: self.port, 8080: free_port(),
                                          8443: self.tls_port})
        text = tls.tls_here(text, self.ca)
        text = logs_in_prefix(point_upstreams(text, upstreams))
        self.config = scale_limits(text, scaled) if scaled else text
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gateway:
        exe = tools.find("nginx")
        if exe is None:
            raise HarnessError(tools.missing("nginx") or "nginx missing")
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "gateway.conf").write_text(self.config)
        conf = nginx_main(self.folder, "gateway.conf")
        self.process = ManagedProcess(
            "gateway", [str(exe), "-e", "stderr", "-p", f"{self.folder}/", "-c", str(conf),
                        "-g", "daemon off;"],
            None, self.folder / "gateway.log", tcp_ready("127.0.0.1", self.port),
            ready_timeout=20.0, cwd=self.folder)
        self.process.start()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def limit_findings(what: str, statuses: list[int], allowed: int) -> list[str]:
    """A rate limit judged from the statuses of requests sent back to back: the first
    `allowed` (1 + burst) are served, and a 429 comes after them."""
    found = []
    refused = [s for s in statuses[:allowed] if s != 200]
    if refused:
        found.append(f"{what}: refused within its burst ({statuses[:allowed]})")
    if 429 not in statuses[allowed:]:
        found.append(f"{what}: never limited: no 429 in {len(statuses)} requests")
    return found

"""The gateway's web application firewall (seed 5.2.3): ModSecurity with the OWASP core rule
set, run by a real nginx here with the stack's rules file. Probes: SQL injection, XSS and path
traversal sent through the gateway must be refused (403); requests of the kinds the suites send
(PostgREST reads and writes, sign-in, uploads) must pass. Findings (pure): a probe let through,
a legitimate request blocked.

Debian's module is unpacked into .tools/nginx-modsecurity by scripts/setup-ci-extras.sh; the
library and the rule set are installed from Debian (their paths are the gateway image's)."""

from __future__ import annotations

import collections
import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from soberharness.ops.loopback_server import LoopbackServer, QuietHandler
from soberharness.targets.services.tools import REPO_ROOT

MODULE = "ngx_http_modsecurity_module.so"
RULES_IN_IMAGE = "/etc/nginx/modsecurity/gateway.conf"
RULES = REPO_ROOT / "stack" / "compose" / "nginx" / "modsecurity.conf"
CRS_SETUP = Path("/etc/modsecurity/crs/crs-setup.conf")
TIMEOUT_S = 5.0
REACHED = "X-Reached-Service"  # set by the stand-in: the request got past the gateway


def module_path() -> Path | None:
    """Debian's ModSecurity module for nginx: $SOBER_NGINX_MODSECURITY, else .tools/."""
    override = os.environ.get("SOBER_NGINX_MODSECURITY")
    candidates = [Path(override)] if override else [
        REPO_ROOT / ".tools" / "nginx-modsecurity" / "usr" / "lib" / "nginx" / "modules" / MODULE,
        Path("/usr/lib/nginx/modules") / MODULE]
    return next((p for p in candidates if p.is_file()), None)


def missing() -> str | None:
    """None when the module and the rule set are here, else why (a skip)."""
    if module_path() is None:
        return ("nginx's ModSecurity module not found: run scripts/setup.sh "
                "(scripts/setup-ci-extras.sh unpacks it into .tools/)")
    if not CRS_SETUP.is_file():
        return "modsecurity-crs not installed: run scripts/setup.sh"
    return None


def load_lines(config: str) -> str:
    """The `load_module` line a main nginx.conf needs for `config` (none if it uses no WAF)."""
    if "modsecurity on;" not in config:
        return ""
    found = module_path()
    return f"load_module {found};\n" if found else ""


def rules_here(config: str, rules: Path = RULES) -> str:
    """The gateway config reading the stack's rules file from this repository."""
    return config.replace(f"modsecurity_rules_file {RULES_IN_IMAGE};",
                          f"modsecurity_rules_file {rules};")


@dataclasses.dataclass(frozen=True)
class Probe:
    name: str
    method: str
    path: str  # sent as is (no dot segment removed)
    attack: bool
    body: bytes = b""
    content_type: str = ""


ATTACKS: tuple[Probe, ...] = (
    Probe("sql injection in a filter", "GET",
          "/rest/v1/posts?id=eq.1%27%20OR%20%271%27%3D%271", True),
    Probe("sql injection in a JSON body", "POST", "/rest/v1/rpc/search_posts", True,
          b'{"query": "x\' UNION SELECT email, encrypted_password FROM auth.users--"}',
          "application/json"),
    Probe("xss in a query", "GET",
          "/rest/v1/profiles?username=eq.%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E", True),
    Probe("xss in a JSON body", "POST", "/rest/v1/posts", True,
          b'{"body": "<img src=x onerror=alert(1)>"}', "application/json"),
    Probe("path traversal in an object path", "GET",
          "/storage/v1/object/public/avatars/..%2f..%2f..%2f..%2fetc%2fpasswd", True),
    Probe("path traversal to a private object", "GET",
          "/storage/v1/object/public/avatars/%2e%2e%2f%2e%2e%2fprivate-files%2fu1%2fdoc.pdf",
          True),
    Probe("path traversal in a query", "GET",
          "/storage/v1/object/list/avatars?prefix=../../../../etc/passwd", True),
)

LEGITIMATE: tuple[Probe, ...] = (
    Probe("feed read", "GET", "/rest/v1/posts?select=id,author_id,body,created_at,"
          "profiles(username)&author_id=in.(7c0d7a3e-3f0e-4a41-9c55-1f1f0e2b8c11)"
          "&order=created_at.desc&limit=20", False),
    Probe("post with an apostrophe", "POST", "/rest/v1/posts", False,
          b'{"body": "It\'s my first sober week, feeling good!", "visibility": "public"}',
          "application/json"),
    Probe("profile update", "PATCH", "/rest/v1/profiles?id=eq.7c0d7a3e-3f0e-4a41-9c55-"
          "1f1f0e2b8c11", False, b'{"bio": "Day 30. One day at a time."}', "application/json"),
    Probe("like removed", "DELETE", "/rest/v1/likes?post_id=eq.42&user_id=eq.7c0d7a3e-3f0e-"
          "4a41-9c55-1f1f0e2b8c11", False),
    Probe("search", "POST", "/rest/v1/rpc/search_posts", False,
          b'{"query": "recovery meetings near me"}', "application/json"),
    Probe("sign-in", "POST", "/auth/v1/token?grant_type=password", False,
          b'{"email": "viewer@example.test", "password": "Sober-test-pass-1"}',
          "application/json"),
    Probe("avatar upload", "POST", "/storage/v1/object/avatars/7c0d7a3e/avatar.png", False,
          b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "image/png"),
    Probe("public avatar read", "GET", "/storage/v1/object/public/avatars/7c0d7a3e/avatar.png",
          False),
)


class AnyUpstream(LoopbackServer):
    """A stand-in for the services behind the gateway (the gateway is under test): answers
    200 to every method; counts what reached it."""

    def __init__(self) -> None:
        self.hits: collections.Counter[str] = collections.Counter()
        outer = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.hits[self.command] += 1
                self.send_response(200)
                self.send_header(REACHED, "1")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

        super().__init__(Handler, "any-upstream")


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    reached: bool  # the request got past the gateway to the service


def send(gateway_url: str, probes: Sequence[Probe], headers: Mapping[str, str]
         ) -> dict[str, Answer]:
    """Each probe's answer through the gateway (paths sent as written, no dot segment
    removed by the client)."""
    out = {}
    with httpx.Client(base_url=gateway_url, timeout=TIMEOUT_S, trust_env=False) as client:
        for one in probes:
            extra = {"Content-Type": one.content_type} if one.content_type else {}
            request = client.build_request(one.method, one.path, content=one.body or None,
                                           headers={**headers, **extra})
            request.url = request.url.copy_with(raw_path=one.path.encode())
            response = client.send(request)
            out[one.name] = Answer(response.status_code, response.headers.get(REACHED) == "1")
    return out


def findings(probes: Sequence[Probe], answers: Mapping[str, Answer]) -> list[str]:
    """An attack that reached a service; a legitimate request that did not (or not as 200)."""
    out = []
    for one in probes:
        got = answers[one.name]
        if one.attack and got.reached:
            out.append(f"let through: {one.name} ({one.method} {one.path}): {got.status}")
        elif not one.attack and (not got.reached or got.status != 200):
            out.append(f"blocked: legitimate {one.name} ({one.method} {one.path}): "
                       f"{got.status}")
    return out

"""The nginx gateway configuration, checked by a real nginx: syntax (`nginx -t`) and routing
(run on 127.0.0.1 in front of protocol doubles of the upstream services)."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from soberharness.config.envcheck import TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.ops import tls, waf
from soberharness.ops.gateway import cache_in_prefix, logs_in_prefix, worker_user

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "stack" / "compose" / "nginx" / "gateway.conf.template"
ENV = read_env_file(TEMPLATES["local"])
ANON, SERVICE = ENV["ANON_KEY"], ENV["SERVICE_ROLE_KEY"]


def find_nginx() -> str | None:
    for candidate in (
        os.environ.get("SOBERHARNESS_NGINX"),
        str(REPO / ".tools" / "nginx" / "usr" / "sbin" / "nginx"),
        shutil.which("nginx"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def render(env: Mapping[str, str], upstreams: Mapping[str, str], port: int,
           folder: Path) -> str:
    """What the nginx image's envsubst step makes of the template, with test upstreams, its
    TLS port on 127.0.0.1 with a test CA's certificate (in `folder`)."""
    text = re.sub(
        r"\$\{([A-Z_][A-Z0-9_]*)\}", lambda m: env.get(m.group(1), m.group(0)), TEMPLATE.read_text()
    )
    for name, address in upstreams.items():
        text, count = re.subn(
            rf"set \${name}_upstream [^;]+;", f"set ${name}_upstream {address};", text
        )
        assert count == 1, name
    text, count = re.subn(r"listen 8000;", f"listen 127.0.0.1:{port};", text)
    assert count == 1
    text, count = re.subn(r"listen 8443 ssl;", f"listen 127.0.0.1:{free_port()} ssl;", text)
    assert count == 1
    text = tls.tls_here(text, tls.make_test_ca(folder / "tls"))
    return waf.rules_here(cache_in_prefix(logs_in_prefix(text)))


def main_config(prefix: Path, include: str) -> Path:
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{worker_user()}{waf.load_lines((prefix / include).read_text())}"
        "pid nginx.pid;\nworker_processes 1;\nevents {}\nhttp {\n"
        "  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy;\n"
        "  fastcgi_temp_path tmp/fcgi; uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;\n"
        f"  access_log off;\n  include {include};\n}}\n"
    )
    return conf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeUpstreamServer:
    """Protocol double of an upstream service: answers with the path and headers it got."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps({"path": self.path, "headers": dict(self.headers)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def nginx() -> str:
    exe = find_nginx()
    reason = waf.missing()  # the template loads the WAF
    if reason:
        pytest.skip(reason)
    if exe is None:
        pytest.skip(
            "nginx not found: run scripts/setup-ci-extras.sh (unpacks it into .tools/nginx)"
        )
    return exe


def test_nginx_accepts_the_rendered_template(nginx: str, tmp_path: Path) -> None:
    (tmp_path / "gateway.conf").write_text(render(ENV, {}, free_port(), tmp_path))
    conf = main_config(tmp_path, "gateway.conf")
    result = subprocess.run(
        [nginx, "-t", "-e", "stderr", "-p", f"{tmp_path}/", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_rejects_a_broken_template(nginx: str, tmp_path: Path) -> None:
    broken = render(ENV, {}, free_port(), tmp_path).replace(
        "proxy_pass http://$rest_upstream;", "proxy_pass")
    (tmp_path / "gateway.conf").write_text(broken)
    conf = main_config(tmp_path, "gateway.conf")
    result = subprocess.run(
        [nginx, "-t", "-e", "stderr", "-p", f"{tmp_path}/", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0


@pytest.fixture(scope="module")
def gateway(nginx: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    upstream = FakeUpstreamServer()
    prefix = tmp_path_factory.mktemp("gateway")
    port = free_port()
    upstreams = {name: upstream.address for name in ("auth", "rest", "realtime", "storage")}
    upstreams["functions"] = f"127.0.0.1:{free_port()}"  # nothing there: as if not started
    (prefix / "gateway.conf").write_text(render(ENV, upstreams, port, prefix))
    conf = main_config(prefix, "gateway.conf")
    proc = subprocess.Popen(
        [nginx, "-e", "stderr", "-p", f"{prefix}/", "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", upstream
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        upstream.close()


def get(base: str, path: str, **headers: str) -> httpx.Response:
    return httpx.get(base + path, headers=headers, timeout=5)


def test_health(gateway: tuple[str, Any]) -> None:
    assert get(gateway[0], "/gateway-health").text == "ok\n"


@pytest.mark.parametrize("prefix", ["/rest/v1/", "/auth/v1/", "/realtime/v1/", "/realtime/v1/api/"])
def test_key_protected_routes_refuse_missing_or_unknown_keys(
    gateway: tuple[str, Any], prefix: str
) -> None:
    assert get(gateway[0], prefix + "x").status_code == 401
    assert get(gateway[0], prefix + "x", apikey="eyJnot.a.key").status_code == 401


def test_rest_route_strips_prefix_and_uses_the_key_as_bearer(gateway: tuple[str, Any]) -> None:
    seen = get(gateway[0], "/rest/v1/profiles?select=id,handle", apikey=ANON).json()
    assert seen["path"] == "/profiles?select=id,handle"
    assert seen["headers"]["Authorization"] == f"Bearer {ANON}"


def test_user_token_passes_through(gateway: tuple[str, Any]) -> None:
    seen = get(
        gateway[0], "/rest/v1/posts", apikey=SERVICE, Authorization="Bearer user-token"
    ).json()
    assert seen["headers"]["Authorization"] == "Bearer user-token"


def test_realtime_websocket_path_and_query_key(gateway: tuple[str, Any]) -> None:
    seen = get(gateway[0], f"/realtime/v1/websocket?apikey={ANON}&vsn=1.0.0").json()
    assert seen["path"] == f"/socket/websocket?apikey={ANON}&vsn=1.0.0"


def test_realtime_tenant_admin_is_forbidden(gateway: tuple[str, Any]) -> None:
    assert (
        get(gateway[0], "/realtime/v1/api/tenants/realtime-dev", apikey=SERVICE).status_code == 403
    )


def test_open_routes_need_no_key(gateway: tuple[str, Any]) -> None:
    assert get(gateway[0], "/auth/v1/verify?token=t&type=signup").json()["path"] == (
        "/verify?token=t&type=signup"
    )
    assert get(gateway[0], "/storage/v1/object/public/avatars/u/a.png").json()["path"] == (
        "/object/public/avatars/u/a.png"
    )


def test_absent_service_answers_502_and_unknown_path_404(gateway: tuple[str, Any]) -> None:
    assert get(gateway[0], "/functions/v1/hello").status_code == 502
    assert get(gateway[0], "/nothing-here").status_code == 404

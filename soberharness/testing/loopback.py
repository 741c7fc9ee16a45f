"""`serve(transport)`: a protocol double (an httpx transport) served over HTTP on 127.0.0.1.

Only for the harness's own tests: a remote target file can then point a service URL at the
double, so that the suites' remote-only code paths (target file, health check, client, runner)
run in CI exactly as they run against a deployment. Binds loopback only, on a free port, and
stops with the context manager. Requests reach the transport one at a time.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator

import httpx

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                        "content-encoding"})


def _handler(transport: httpx.BaseTransport) -> type[http.server.BaseHTTPRequestHandler]:
    lock = threading.Lock()  # doubles keep one database connection: one request at a time

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm on, the second waits
        # for the client's delayed ACK (about 40 ms on Linux) on every request.
        disable_nagle_algorithm = True

        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            host = self.headers.get("host") or "127.0.0.1"
            request = httpx.Request(self.command, f"http://{host}{self.path}",
                                    headers=list(self.headers.items()), content=body)
            with lock:
                response = transport.handle_request(request)
                content = response.read()
            self.send_response(response.status_code)
            for key, value in response.headers.multi_items():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the selftests read results, not access logs."""

    return Handler


@contextlib.contextmanager
def serve(transport: httpx.BaseTransport) -> Iterator[str]:
    """Serve `transport` at http://127.0.0.1:<free port>; yields that origin."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(transport))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="loopback-double", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""An HTTP server of a test on 127.0.0.1 (a free port) in a daemon thread of this process: the
base of the gateway's upstream stand-ins and of the Alertmanager webhook receiver, each of
which supplies only its request handler (a `QuietHandler`)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any, Self

JOIN_S = 5.0


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (a test's output stays its own)."""

    def log_message(self, *args: Any) -> None:
        return


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 from entering the context until leaving it."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str,
                 timeout: float | None = None) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if timeout is not None:
            self._server.timeout = timeout
        self._thread = Thread(target=self._server.serve_forever, daemon=True, name=name)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """host:port, as an upstream in a gateway config."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(JOIN_S)

"""The Alertmanager webhook receiver of a test: an HTTP server on 127.0.0.1 in a thread of
this process, recording each notification's alerts with the time it arrived."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclasses.dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() on arrival
    alertname: str
    status: str  # firing | resolved
    labels: dict[str, str]


class WebhookReceiver:
    """Use as a context manager; `url` is what Alertmanager posts to."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                outer._record(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.timeout = 5
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="webhook-receiver")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/alerts"

    def _record(self, body: bytes) -> None:
        now = time.monotonic()
        try:
            payload = json.loads(body)
        except ValueError:
            return
        with self._lock:
            for alert in payload.get("alerts") or []:
                labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
                self.received.append(Received(now, labels.get("alertname", ""),
                                              str(alert.get("status", "")), labels))

    def first(self, alertname: str, status: str = "firing", after: float = 0.0
              ) -> Received | None:
        with self._lock:
            for item in self.received:
                if item.alertname == alertname and item.status == status and item.at >= after:
                    return item
        return None

    def wait_for(self, alertname: str, timeout: float, after: float = 0.0,
                 status: str = "firing") -> Received | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.first(alertname, status, after)
            if found:
                return found
            time.sleep(0.1)
        return self.first(alertname, status, after)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

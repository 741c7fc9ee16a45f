"""The Alertmanager webhook receiver of a test: an HTTP server on 127.0.0.1 in a thread of
this process, recording each notification's alerts with the time it arrived."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

from soberharness.ops.loopback_server import LoopbackServer, QuietHandler


@dataclasses.dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() on arrival
    alertname: str
    status: str  # firing | resolved
    labels: dict[str, str]


class WebhookReceiver(LoopbackServer):
    """Use as a context manager; `url` is what Alertmanager posts to."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                outer._record(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler, "webhook-receiver", timeout=5)

    @property
    def url(self) -> str:
        return f"http://{self.address}/alerts"

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

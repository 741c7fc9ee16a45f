"""Requests sent through the gateway of a monitoring stack while an alert is awaited: a steady
stream from a background thread (rates need a counter that keeps moving), each with a timeout;
what was answered is counted by status."""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping

import httpx

TIMEOUT_S = 3.0


def get_status(url: str, headers: Mapping[str, str] | None = None) -> int:
    """The status of one GET (an HTTP error status is an answer, not an exception)."""
    return httpx.get(url, headers=dict(headers or {}), timeout=TIMEOUT_S,
                     trust_env=False).status_code


class RequestStream:
    """GET `url` every `every_s` seconds until stopped; `statuses` counts the answers."""

    def __init__(self, url: str, headers: Mapping[str, str] | None = None,
                 every_s: float = 0.2) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.every_s = every_s
        self.statuses: collections.Counter[int] = collections.Counter()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="request-stream")

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.statuses[get_status(self.url, self.headers)] += 1
            except httpx.HTTPError as error:
                self.errors.append(str(error))
            self._stop.wait(self.every_s)

    def __enter__(self) -> RequestStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT_S + 2)

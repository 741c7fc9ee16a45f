"""HTTP client of the edge functions' main service (stack/functions/main): one call per request,
a timeout on every call, the answer kept as status, headers and parsed JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import httpx

from soberharness.errors import TargetUnavailable

TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # parsed JSON, or the text when the body is not JSON
    headers: Mapping[str, str]


class FunctionsClient:
    """Calls `<base>/<function>` with a bearer token (None: no Authorization header)."""

    def __init__(self, base_url: str, timeout: float = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FunctionsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        try:
            response = self._http.request(method, f"{self.base_url}/{path.lstrip('/')}",
                                          params=params, json=json, content=content,
                                          headers=sent)
        except httpx.HTTPError as exc:
            raise TargetUnavailable(
                f"functions at {self.base_url} did not answer {method} /{path}: "
                f"{type(exc).__name__}"
            ) from None
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        return Answer(response.status_code, body, dict(response.headers))

    def call(self, function: str, token: str | None, *, method: str = "POST",
             params: Mapping[str, str] | None = None, json: Any = None) -> Answer:
        return self.request(method, function, token, params=params, json=json)

    def metrics(self) -> str:
        answer = self.request("GET", "metrics")
        return answer.body if isinstance(answer.body, str) else ""

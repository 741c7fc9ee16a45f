"""Toxiproxy's HTTP API: a TCP proxy that injects latency, bandwidth limits, resets and timeouts.

`ToxiproxyClient` speaks its API (soberharness.services.proxy builds it; the server process is
soberharness.targets.services.toxiproxy): /version, /proxies, /proxies/{name}/toxics, /reset.
Toxic attributes (all integers): latency {latency, jitter} ms; bandwidth {rate} KB/s;
slow_close {delay} ms; timeout {timeout} ms (0 = hold the data forever); reset_peer {timeout} ms;
slicer {average_size, size_variation, delay}; limit_data {bytes}. Stream "downstream" is
server->client, "upstream" client->server.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any

import httpx

from soberharness.errors import HarnessError, TargetUnavailable

HOST = "127.0.0.1"


class ToxicType(StrEnum):
    LATENCY = "latency"
    BANDWIDTH = "bandwidth"
    SLOW_CLOSE = "slow_close"
    TIMEOUT = "timeout"
    RESET_PEER = "reset_peer"
    SLICER = "slicer"
    LIMIT_DATA = "limit_data"


class Stream(StrEnum):
    DOWNSTREAM = "downstream"  # upstream server -> client
    UPSTREAM = "upstream"  # client -> upstream server


@dataclasses.dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Toxic:
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            stream=str(data.get("stream", "downstream")),
            toxicity=float(data.get("toxicity", 1.0)),
            attributes={str(k): int(v) for k, v in (data.get("attributes") or {}).items()},
        )


@dataclasses.dataclass(frozen=True)
class Proxy:
    name: str
    listen: str  # host:port actually bound (a port 0 request is resolved)
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Proxy:
        return cls(
            name=str(data["name"]),
            listen=str(data["listen"]),
            upstream=str(data["upstream"]),
            enabled=bool(data["enabled"]),
            toxics=tuple(Toxic.from_json(t) for t in data.get("toxics") or []),
        )


class ToxiproxyError(HarnessError):
    """The Toxiproxy API refused a request (message is its error text)."""


class ToxiproxyClient:
    """Typed client for Toxiproxy's HTTP API. Every call has a timeout."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout,
                                  headers={"User-Agent": "soberharness"})

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise TargetUnavailable(f"toxiproxy at {self.base_url}: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("error", response.text))
            except ValueError:
                detail = response.text
            raise ToxiproxyError(
                f"toxiproxy {method} {path} answered {response.status_code}: {detail.strip()}"
            )
        if response.status_code == 204 or not response.content:
            return None
        if "json" not in response.headers.get("content-type", ""):
            return response.text
        return response.json()

    # -- server --------------------------------------------------------------------------------

    def version(self) -> str:
        result = self._call("GET", "/version")
        if isinstance(result, dict):  # newer servers answer {"version": "..."}
            return str(result.get("version", ""))
        return str(result).strip()

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")

    # -- proxies -------------------------------------------------------------------------------

    def proxies(self) -> dict[str, Proxy]:
        data = self._call("GET", "/proxies") or {}
        return {name: Proxy.from_json(item) for name, item in data.items()}

    def create_proxy(self, name: str, upstream: str, listen: str = f"{HOST}:0",
                     enabled: bool = True) -> Proxy:
        """A proxy listening on `listen` (port 0: any free port; see Proxy.port)."""
        data = self._call("POST", "/proxies", {
            "name": name, "listen": listen, "upstream": upstream, "enabled": enabled,
        })
        return Proxy.from_json(data)

    def proxy(self, name: str) -> Proxy:
        return Proxy.from_json(self._call("GET", f"/proxies/{name}"))

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        """Disabling closes every connection through the proxy and refuses new ones."""
        return Proxy.from_json(self._call("POST", f"/proxies/{name}", {"enabled": enabled}))

    def delete_proxy(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{name}")

    # -- toxics --------------------------------------------------------------------------------

    def toxics(self, proxy: str) -> list[Toxic]:
        return [Toxic.from_json(t) for t in self._call("GET", f"/proxies/{proxy}/toxics") or []]

    def add_toxic(
        self,
        proxy: str,
        type: ToxicType | str,
        attributes: dict[str, int] | None = None,
        *,
        name: str | None = None,
        stream: Stream | str = Stream.DOWNSTREAM,
        toxicity: float = 1.0,
    ) -> Toxic:
        """Add a toxic; its default name is '<type>_<stream>'. toxicity = share of connections."""
        body: dict[str, Any] = {
            "type": str(type),
            "stream": str(stream),
            "toxicity": toxicity,
            "attributes": attributes or {},
        }
        if name:
            body["name"] = name
        return Toxic.from_json(self._call("POST", f"/proxies/{proxy}/toxics", body))

    def update_toxic(self, proxy: str, name: str, attributes: dict[str, int],
                     toxicity: float | None = None) -> Toxic:
        body: dict[str, Any] = {"attributes": attributes}
        if toxicity is not None:
            body["toxicity"] = toxicity
        return Toxic.from_json(self._call("POST", f"/proxies/{proxy}/toxics/{name}", body))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    # -- shorthands ----------------------------------------------------------------------------

    def latency(self, proxy: str, ms: int, jitter_ms: int = 0,
                stream: Stream | str = Stream.DOWNSTREAM) -> Toxic:
        return self.add_toxic(proxy, ToxicType.LATENCY, {"latency": ms, "jitter": jitter_ms},
                              stream=stream)

    def bandwidth(self, proxy: str, kilobytes_per_second: int,
                  stream: Stream | str = Stream.DOWNSTREAM) -> Toxic:
        return self.add_toxic(proxy, ToxicType.BANDWIDTH, {"rate": kilobytes_per_second},
                              stream=stream)

    def reset_peer(self, proxy: str, after_ms: int = 0,
                   stream: Stream | str = Stream.DOWNSTREAM) -> Toxic:
        return self.add_toxic(proxy, ToxicType.RESET_PEER, {"timeout": after_ms}, stream=stream)

    def timeout(self, proxy: str, after_ms: int = 0,
                stream: Stream | str = Stream.DOWNSTREAM) -> Toxic:
        """Stop all data; close the connection after `after_ms` (0: never)."""
        return self.add_toxic(proxy, ToxicType.TIMEOUT, {"timeout": after_ms}, stream=stream)

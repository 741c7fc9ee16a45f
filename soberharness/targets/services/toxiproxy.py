"""Toxiproxy's server on 127.0.0.1 (its API client is soberharness.clients.toxiproxy, built by
soberharness.services.proxy)."""

from __future__ import annotations

from pathlib import Path

from soberharness.clients.toxiproxy import HOST, ToxiproxyClient
from soberharness.errors import TargetUnavailable
from soberharness.services import proxy
from soberharness.targets.services.process import (
    HttpService,
    ManagedProcess,
    free_port,
    http_ready,
)
from soberharness.targets.services.tools import find_tool, missing_reason


class ToxiproxyProcess(HttpService[ToxiproxyClient]):
    """A toxiproxy-server on 127.0.0.1:`port` (a free port by default)."""

    def __init__(
        self,
        workdir: str | Path,
        port: int | None = None,
        binary: str | Path | None = None,
        ready_timeout: float = 15.0,
    ) -> None:
        found = Path(binary) if binary else find_tool("toxiproxy")
        if found is None:
            raise TargetUnavailable(missing_reason("toxiproxy"))
        self.binary = found
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.process = ManagedProcess(
            "toxiproxy",
            [str(self.binary), "-host", HOST, "-port", str(self.port)],
            env=None,
            log_path=self.workdir / "toxiproxy.log",
            ready=http_ready(f"{self.url}{proxy.FACTS.health_path}"),
            ready_timeout=ready_timeout,
            cwd=self.workdir,
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _make_client(self) -> ToxiproxyClient:
        return proxy.client(self.url)

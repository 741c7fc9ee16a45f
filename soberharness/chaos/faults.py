"""Faults, each a real one, as small objects with inject() and heal().

Database faults act on every PostgreSQL process (the postmaster and all its children: each child
makes itself a process-group leader, so one killpg() would reach the postmaster only), the way
a container kill or freeze would: SIGKILL then restart, SIGSTOP then SIGCONT. Network faults
are Toxiproxy toxics on the proxy between the clients and the database; a partition disables the
proxy (every connection through it is closed and new ones are refused).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from typing import Protocol

from soberharness.chaos.disk import SmallDisk
from soberharness.clients.toxiproxy import Stream, ToxicType, ToxiproxyClient
from soberharness.errors import TargetUnavailable
from soberharness.targets.postgres import PostgresServer
from soberharness.targets.proctree import children_of


class Fault(Protocol):
    name: str

    def inject(self) -> None: ...

    def heal(self) -> None: ...


class PostgresCrash:
    """SIGKILL to every PostgreSQL process (no shutdown, no WAL flush), then a restart."""

    name = "postgres-sigkill"

    def __init__(self, pg: PostgresServer) -> None:
        self.pg = pg

    def inject(self) -> None:
        pid = self.pg.pid
        if pid is None or not self.pg.alive:
            raise TargetUnavailable("postgres is not running: nothing to kill")
        # Freeze everything first so no process sees another die and reacts, then kill all.
        processes = signal_tree(pid, signal.SIGSTOP)
        for child in processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        self.pg.kill(signal.SIGKILL)  # reaps the postmaster and forgets it
        _wait_gone(processes[1:])

    def heal(self) -> None:
        if not self.pg.alive:
            self.pg.start()


class PostgresPause:
    """SIGSTOP to every PostgreSQL process (a frozen host or container), then SIGCONT."""

    name = "postgres-sigstop"

    def __init__(self, pg: PostgresServer) -> None:
        self.pg = pg
        self._pid: int | None = None

    def inject(self) -> None:
        pid = self.pg.pid
        if pid is None or not self.pg.alive:
            raise TargetUnavailable("postgres is not running: nothing to pause")
        self._pid = pid
        signal_tree(pid, signal.SIGSTOP)

    def heal(self) -> None:
        if self._pid is not None:
            signal_tree(self._pid, signal.SIGCONT)
            self._pid = None


class DiskFull:
    """The small disk holding the posts table filled up, then the filler removed."""

    name = "disk-full"

    def __init__(self, disk: SmallDisk) -> None:
        self.disk = disk

    def inject(self) -> None:
        self.disk.fill()

    def heal(self) -> None:
        self.disk.free()


class Toxic:
    """One Toxiproxy toxic on the proxy, added by inject() and removed by heal()."""

    def __init__(
        self,
        client: ToxiproxyClient,
        proxy: str,
        type: ToxicType,
        attributes: dict[str, int],
        stream: Stream = Stream.DOWNSTREAM,
        label: str | None = None,
    ) -> None:
        self.client = client
        self.proxy = proxy
        self.type = type
        self.attributes = attributes
        self.stream = stream
        self.toxic_name = f"chaos_{type}_{stream}"
        self.name = label or f"toxiproxy-{type}"
        self._added = False

    def inject(self) -> None:
        self.client.add_toxic(self.proxy, self.type, self.attributes, name=self.toxic_name,
                              stream=self.stream)
        self._added = True

    def heal(self) -> None:
        if self._added:
            self.client.remove_toxic(self.proxy, self.toxic_name)
            self._added = False


class Partition:
    """The proxy disabled: open connections are cut and new ones refused until heal()."""

    name = "toxiproxy-partition"

    def __init__(self, client: ToxiproxyClient, proxy: str) -> None:
        self.client = client
        self.proxy = proxy

    def inject(self) -> None:
        self.client.set_enabled(self.proxy, False)

    def heal(self) -> None:
        self.client.set_enabled(self.proxy, True)


def latency(client: ToxiproxyClient, proxy: str, ms: int = 300, jitter_ms: int = 200) -> Toxic:
    return Toxic(client, proxy, ToxicType.LATENCY, {"latency": ms, "jitter": jitter_ms},
                 label="toxiproxy-latency-jitter")


def bandwidth(client: ToxiproxyClient, proxy: str, kilobytes_per_second: int = 1) -> Toxic:
    return Toxic(client, proxy, ToxicType.BANDWIDTH, {"rate": kilobytes_per_second},
                 label="toxiproxy-bandwidth")


def reset_peer(client: ToxiproxyClient, proxy: str, after_ms: int = 0) -> Toxic:
    return Toxic(client, proxy, ToxicType.RESET_PEER, {"timeout": after_ms},
                 stream=Stream.UPSTREAM, label="toxiproxy-reset-peer")


@contextlib.contextmanager
def injected(fault: Fault) -> Iterator[Fault]:
    """Inject `fault`; heal it on the way out, whatever happened inside."""
    fault.inject()
    try:
        yield fault
    finally:
        fault.heal()


def signal_tree(pid: int, sig: int) -> list[int]:
    """Send `sig` to `pid` first, then to each of its children; returns [pid, *children]."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    children = children_of(pid)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, sig)
    return [pid, *children]


def _wait_gone(pids: list[int], timeout: float = 5.0) -> None:
    """Wait until the killed children have exited (a restart needs the shared memory free)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if os.path.exists(f"/proc/{p}") and not _is_zombie(p)]
        if not left:
            return
        time.sleep(0.02)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True

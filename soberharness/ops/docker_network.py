"""The private Docker engines' networks on this machine: the 10.N.0.0/16 address pool an engine
takes (overlapping no route and no other live engine of ours), recorded with its owner in a
ledger, and the bridges a killed engine left behind (a killed dockerd takes its processes and
mounts with its namespaces, but the bridges it made live in this machine's network namespace):
a `br-*` inside a pool the ledger gives to a dead owner is removed when the next engine starts.
A bridge in no pool of the ledger is never touched, whoever made it."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from soberharness.errors import TargetUnavailable
from soberharness.targets import proctree

POOL_RANGE = range(200, 255)  # 10.N.0.0/16 candidates for the engine's networks
ROUTES = Path("/proc/net/route")
LEDGER = "sober-engine-pools"  # in the temporary directory: <pool with _ for />: "<pid> <start>"


def routed_networks(table: str) -> list[ipaddress.IPv4Network]:
    """The IPv4 networks of /proc/net/route's text (little-endian hex destination and mask)."""
    found = []
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest = ipaddress.IPv4Address(int.from_bytes(bytes.fromhex(fields[1]), "little"))
        mask = ipaddress.IPv4Address(int.from_bytes(bytes.fromhex(fields[7]), "little"))
        with contextlib.suppress(ValueError):
            found.append(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))
    return found


def free_pool(routes: list[ipaddress.IPv4Network], rng: random.Random | None = None) -> str:
    """A 10.N.0.0/16 overlapping no route (a default route excepted), N from POOL_RANGE."""
    used = [r for r in routes if r.prefixlen > 0]
    candidates = list(POOL_RANGE)
    (rng or random.Random()).shuffle(candidates)
    for n in candidates:
        pool = ipaddress.IPv4Network(f"10.{n}.0.0/16")
        if not any(pool.overlaps(route) for route in used):
            return str(pool)
    raise TargetUnavailable("no free 10.N.0.0/16 for the Docker engine's networks "
                            f"(N in {POOL_RANGE.start}-{POOL_RANGE.stop - 1} all routed)")


def in_our_range(network: ipaddress.IPv4Network) -> bool:
    first = network.network_address.packed
    return first[0] == 10 and first[1] in POOL_RANGE


def bridges(ip_addr_text: str) -> dict[str, ipaddress.IPv4Network]:
    """Docker's bridges (`br-*`) and their subnets, from `ip -4 -o addr show`'s text."""
    found = {}
    for line in ip_addr_text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[1].startswith("br-") and fields[2] == "inet":
            found[fields[1]] = ipaddress.IPv4Interface(fields[3]).network
    return found


def stale_bridges(found: Mapping[str, ipaddress.IPv4Network], dead_pools: set[str]) -> list[str]:
    """The bridges an engine of ours left when it was killed: inside a pool the ledger gives
    to an owner that is gone (a bridge in no recorded pool is not ours to remove)."""
    pools = [ipaddress.IPv4Network(p) for p in dead_pools]
    return sorted(name for name, net in found.items()
                  if in_our_range(net) and any(net.subnet_of(p) for p in pools))


def ledger(root: Path | None = None) -> Path:
    return Path(root or tempfile.gettempdir()) / LEDGER


def record_pool(pool: str, root: Path | None = None) -> None:
    """Give `pool` to this process in the ledger."""
    folder = ledger(root)
    folder.mkdir(exist_ok=True)
    pid = os.getpid()
    (folder / pool.replace("/", "_")).write_text(f"{pid} {proctree.start_time(pid)}\n")


def recorded_pools(root: Path | None = None) -> tuple[set[str], dict[str, Path]]:
    """(pools of live owners, pool -> ledger entry for dead owners)."""
    live: set[str] = set()
    dead: dict[str, Path] = {}
    folder = ledger(root)
    for entry in sorted(folder.glob("10.*")) if folder.is_dir() else []:
        with contextlib.suppress(OSError, ValueError):
            pool = str(ipaddress.IPv4Network(entry.name.replace("_", "/")))
            pid_text, started_text = entry.read_text().split()
            started = None if started_text == "None" else int(started_text)
            if proctree.is_running(int(pid_text), started):
                live.add(pool)
            else:
                dead[pool] = entry
    return live, dead


def release_pool(pool: str, root: Path | None = None) -> None:
    """Drop this engine's ledger entry once none of its bridges is left (a stopped engine's
    bridges go with its networks; one left stays recorded for the next engine to remove)."""
    try:
        shown = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True,
                               text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return
    if not stale_bridges(bridges(shown), {pool}):
        (ledger(root) / pool.replace("/", "_")).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the last engine's: nothing of ours is left
            ledger(root).rmdir()


def remove_stale_bridges(root: Path | None = None) -> list[str]:
    """Delete the bridges killed engines of ours left behind (a killed dockerd takes its
    processes and mounts with its namespaces, not the bridges it made in this machine's
    network namespace), and their ledger entries; the names removed."""
    _, dead = recorded_pools(root)
    if not dead:
        return []
    try:
        shown = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True,
                               text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    removed = []
    for name in stale_bridges(bridges(shown), set(dead)):
        done = subprocess.run(["ip", "link", "delete", name], capture_output=True, timeout=10)
        if done.returncode == 0:
            removed.append(name)
    left = bridges(subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True,
                                  text=True, timeout=10).stdout)
    for pool, entry in dead.items():
        if not stale_bridges(left, {pool}):
            entry.unlink(missing_ok=True)
    return removed

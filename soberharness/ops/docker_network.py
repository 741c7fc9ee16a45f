"""The private Docker engines' networks on this machine: the 10.N.0.0/16 address pool an engine
takes (overlapping no route and no other live engine of ours), and the bridges a killed engine
left behind (a killed dockerd takes its processes and mounts with its namespaces, but the
bridges it made live in this machine's network namespace): a `br-*` in our range that is in
no live engine's pool is removed when the next engine starts."""

from __future__ import annotations

import contextlib
import ipaddress
import random
import subprocess
from collections.abc import Mapping
from pathlib import Path

from soberharness.errors import TargetUnavailable
from soberharness.targets import workdirs

POOL_RANGE = range(200, 255)  # 10.N.0.0/16 candidates for the engine's networks
ROUTES = Path("/proc/net/route")
POOL_FILE = "engine-pool"


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


def stale_bridges(found: Mapping[str, ipaddress.IPv4Network], live_pools: set[str]) -> list[str]:
    """The bridges an engine of ours left when it was killed: in our address range, in no pool
    of an engine whose run is alive."""
    pools = [ipaddress.IPv4Network(p) for p in live_pools]
    return sorted(name for name, net in found.items()
                  if in_our_range(net) and not any(net.subnet_of(p) for p in pools))


def live_pools(roots: list[Path]) -> set[str]:
    """The address pools of the engines whose runs are alive (their folders' POOL_FILE)."""
    pools = set()
    for root in roots:
        for path in root.glob(f"{workdirs.PREFIX}*/{POOL_FILE}"):
            if workdirs.owner_alive(path.parent):
                with contextlib.suppress(OSError, ValueError):  # being written: none yet
                    pools.add(str(ipaddress.IPv4Network(path.read_text().strip())))
    return pools


def remove_stale_bridges(roots: list[Path]) -> list[str]:
    """Delete the bridges killed engines of ours left behind (a killed dockerd takes its
    processes and mounts with its namespaces, not the bridges it made in this machine's
    network namespace); the names removed."""
    try:
        shown = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True,
                               text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    removed = []
    for name in stale_bridges(bridges(shown), live_pools(roots)):
        done = subprocess.run(["ip", "link", "delete", name], capture_output=True, timeout=10)
        if done.returncode == 0:
            removed.append(name)
    return removed

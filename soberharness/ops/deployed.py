"""What the compose file deploys for monitoring: which service answers at each in-network
address (`host:port`) the Prometheus config names. Pure: reads the parsed compose file and the
gateway's nginx template, starts nothing.

A service is reachable as `<its name>:<port>`; one that shares another's network namespace
(`network_mode: service:<other>`) is reachable as `<other>:<port>`, and its own 127.0.0.1 is
the other's. Ports are what each image listens on (a declared fact per image below) or, for the
gateway's nginx, the `listen` lines of its template.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

# image repository (without tag) -> (role the local stack runs it as, the port it listens on)
IMAGE_ROLES: dict[str, tuple[str, int]] = {
    "prom/prometheus": ("prometheus", 9090),
    "quay.io/prometheuscommunity/postgres-exporter": ("postgres-exporter", 9187),
    "nginx/nginx-prometheus-exporter": ("nginx-exporter", 9113),
    # built from stack/monitoring/mtail (Debian's mtail and the gateway's program)
    "sobertube/gateway-requests-mtail": ("mtail", 3903),
}
# the gateway: the official nginx image, or the stack's own (stack/compose/nginx/Dockerfile)
GATEWAY_IMAGES = ("nginx", "sobertube/gateway")
LOOPBACK = ("127.0.0.1", "localhost")


@dataclasses.dataclass(frozen=True)
class Listener:
    service: str  # the compose service
    role: str  # prometheus | postgres-exporter | nginx-exporter | mtail | gateway
    port: int  # the port inside the network namespace


def repository(image: str) -> str:
    name, _, tag = image.rpartition(":")
    return name if name and "/" not in tag else image


def namespace_of(name: str, service: Mapping[str, Any]) -> str:
    mode = str(service.get("network_mode", ""))
    return mode.split(":", 1)[1] if mode.startswith("service:") else name


def gateway_ports(template: str) -> list[int]:
    """The ports the gateway's nginx listens on (`listen [addr:]PORT ...;`)."""
    return [int(p) for p in re.findall(r"^\s*listen\s+(?:[\w.]+:)?(\d+)\b[^;]*;", template, re.M)]


def listeners(compose: Mapping[str, Any], gateway_template: str) -> dict[str, Listener]:
    """`host:port` -> who answers there, for every service the local stack can run."""
    found: dict[str, Listener] = {}
    for name, service in (compose.get("services") or {}).items():
        host = namespace_of(name, service)
        repo = repository(str(service.get("image", "")))
        if repo in IMAGE_ROLES:
            role, port = IMAGE_ROLES[repo]
            found[f"{host}:{port}"] = Listener(name, role, port)
            if role == "prometheus":  # its own config names itself as localhost
                found[f"localhost:{port}"] = Listener(name, role, port)
        elif repo in GATEWAY_IMAGES:
            for port in gateway_ports(gateway_template):
                found[f"{host}:{port}"] = Listener(name, "gateway", port)
    return found


def command_flag(service: Mapping[str, Any], flag: str) -> str | None:
    """The value of `-flag=value` / `--flag=value` in a service's command, if given."""
    for arg in service.get("command") or []:
        text = str(arg).lstrip("-")
        if text.startswith(flag + "="):
            return text.split("=", 1)[1]
    return None


def in_network(url_host: str, service_name: str, service: Mapping[str, Any]) -> str:
    """The network address a service means by `host:port` in its own config (127.0.0.1 is
    its namespace's owner)."""
    host, _, port = url_host.rpartition(":")
    if host in LOOPBACK:
        host = namespace_of(service_name, service)
    return f"{host}:{port}"


def volume_at(service: Mapping[str, Any], path: str) -> tuple[str, str] | None:
    """(named volume, path inside it) where `path` of a service's file system lives, when a
    named volume is mounted over it (`volume:/mount[:ro]`); None otherwise."""
    found: list[tuple[int, str, str]] = []  # (mount length, volume, path inside)
    for entry in service.get("volumes") or []:
        if not isinstance(entry, str):
            continue
        source, _, rest = entry.partition(":")
        mount = rest.split(":", 1)[0].rstrip("/")
        if source.startswith((".", "/", "~")) or not mount:
            continue
        if path == mount or path.startswith(mount + "/"):
            found.append((len(mount), source, path[len(mount):].lstrip("/")))
    return max(found)[1:] if found else None


def command_value(service: Mapping[str, Any], flag: str) -> str | None:
    """The value after `-flag` / `--flag` (separate argument) in a service's command."""
    args = [str(a) for a in service.get("command") or []]
    for i, arg in enumerate(args[:-1]):
        if arg.lstrip("-") == flag and arg.startswith("-"):
            return args[i + 1]
    return None

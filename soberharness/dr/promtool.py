"""Prometheus's promtool on the stack's monitoring files: the config (and the rule files it
loads) checked, the alert rules unit-tested on synthetic series."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from soberharness.dr.tools import Ran, find_promtool, run
from soberharness.errors import HarnessError
from soberharness.targets.migrations import REPO

MONITORING = REPO / "stack" / "monitoring"
COMPOSE_FILE = REPO / "stack" / "compose" / "docker-compose.yml"
RULE_TESTS = MONITORING / "tests" / "alerts.test.yml"


def promtool(*args: str, timeout: float = 60.0) -> Ran:
    exe = find_promtool()
    if exe is None:
        raise HarnessError("promtool not installed: run scripts/setup.sh")
    return run([str(exe), *args], as_server=False, timeout=timeout)


def compose_prometheus_config(compose_file: Path = COMPOSE_FILE) -> Path:
    """The file the compose file's prometheus service runs with (--config.file), on this side
    of its volume mounts."""
    compose = yaml.safe_load(compose_file.read_text())
    service = (compose.get("services") or {}).get("prometheus")
    if service is None:
        raise HarnessError(f"{compose_file}: no prometheus service")
    flags = [a for a in service.get("command", []) if str(a).startswith("--config.file=")]
    inside = flags[0].split("=", 1)[1] if flags else "/etc/prometheus/prometheus.yml"
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        mount = rest.split(":")[0]
        if inside.startswith(mount.rstrip("/") + "/"):
            return (compose_file.parent / source / inside[len(mount.rstrip("/")) + 1:]).resolve()
    raise HarnessError(f"{compose_file}: prometheus's {inside} comes from no volume")


def rules_loaded(check_output: str) -> int:
    """How many rules `promtool check config` found in the rule files it loaded."""
    return sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", check_output))


def failed_alerts(test_output: str) -> list[str]:
    """Alert names in `promtool test rules` failures."""
    return sorted(set(re.findall(r"alertname: ?(\w+)", test_output)))

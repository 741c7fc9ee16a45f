"""The operations programs, unpacked from Debian's packages into .tools/ by
scripts/setup-ci-extras.sh (or given by SOBER_<TOOL>_BIN): where each is, or why it is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from soberharness.ops import waf
from soberharness.targets.services.tools import REPO_ROOT

SETUP_HINT = "run scripts/setup.sh (scripts/setup-ci-extras.sh unpacks it into .tools/)"

# tool -> (folder under .tools, program in its usr/bin, name on PATH)
TOOLS: dict[str, tuple[str, str, str]] = {
    "prometheus": ("prometheus", "prometheus", "prometheus"),
    # installed as a package: it reads templates from a fixed path under /usr/share
    "alertmanager": ("", "", "prometheus-alertmanager"),
    "postgres-exporter": ("postgres-exporter", "prometheus-postgres-exporter",
                          "prometheus-postgres-exporter"),
    "nginx-exporter": ("nginx-exporter", "prometheus-nginx-exporter",
                       "prometheus-nginx-exporter"),
    "nginx": ("nginx", "../sbin/nginx", "nginx"),
    "mtail": ("mtail", "mtail", "mtail"),
    # installed as a package by scripts/setup-ci-extras.sh (the disaster-recovery drills')
    "pgbackrest": ("", "", "pgbackrest"),
}


def find(tool: str) -> Path | None:
    """The program for `tool`: $SOBER_<TOOL>_BIN, else .tools/<dir>/usr/bin/<name>, else PATH."""
    folder, program, on_path = TOOLS[tool]
    override = os.environ.get("SOBER_" + tool.upper().replace("-", "_") + "_BIN")
    if override:
        return Path(override) if os.access(override, os.X_OK) else None
    unpacked = (REPO_ROOT / ".tools" / folder / "usr" / "bin" / program).resolve()
    if folder and os.access(unpacked, os.X_OK):
        return unpacked
    found = shutil.which(on_path)
    return Path(found) if found else None


def missing(*tools: str) -> str | None:
    """None when every tool is here, else one line naming the first missing one (a skip)."""
    for tool in tools:
        if find(tool) is None:
            return f"{tool} not installed: {SETUP_HINT}"
        if tool == "nginx":  # the gateway's config loads the WAF: nginx alone cannot run it
            reason = waf.missing()
            if reason:
                return reason
    return None

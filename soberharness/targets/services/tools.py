"""Where the service binaries are: `.tools/bin` (scripts/install-services.sh), an override, or PATH.

Each tool can be pointed at explicitly with an environment variable `SOBER_<TOOL>_BIN`
(e.g. SOBER_GOTRUE_BIN=/opt/auth). Pinned versions are read from scripts/versions.env.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from soberharness.paths import REPO as REPO_ROOT

TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
VERSIONS_FILE = REPO_ROOT / "scripts" / "versions.env"
INSTALL_HINT = "run scripts/install-services.sh"

# tool name -> executable names to look for, in order
_EXECUTABLES: dict[str, tuple[str, ...]] = {
    "gotrue": ("gotrue", "auth"),
    "mailpit": ("mailpit",),
    "toxiproxy": ("toxiproxy-server",),
    "deno": ("deno",),
}


def find_tool(tool: str) -> Path | None:
    """The executable for `tool`, or None when it is not installed."""
    override = os.environ.get(f"SOBER_{tool.upper()}_BIN")
    if override:
        path = Path(override)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    names = _EXECUTABLES.get(tool, (tool,))
    for name in names:
        candidate = TOOLS_BIN / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    # never pick up an unrelated `auth` from PATH: only the first (specific) name there
    found = shutil.which(names[0])
    return Path(found) if found else None


def missing_reason(tool: str) -> str:
    """A one-line reason for a skip: '<tool> not installed: run scripts/install-services.sh',
    plus why the last install attempt skipped it, when it did."""
    reason = f"{tool} not installed: {INSTALL_HINT}"
    try:
        last = (TOOLS_BIN.parent / "stamps" / f"{tool}.skipped").read_text().strip()
    except OSError:
        return reason
    return f"{reason} (last attempt skipped it because {last})" if last else reason


def pinned_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """KEY=VALUE pairs of scripts/versions.env (comments and blank lines ignored)."""
    versions: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return versions
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        versions[key.strip()] = value.strip().strip("'\"")
    return versions

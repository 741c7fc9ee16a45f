"""Reading KEY=VALUE environment files the way compose's --env-file does (simple subset)."""

from __future__ import annotations

from pathlib import Path

from soberharness.errors import HarnessError


def parse_env_text(text: str, origin: str = "<text>") -> dict[str, str]:
    """KEY=VALUE lines; blank lines and `#` comments skipped; one pair of quotes stripped."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum() or key[0].isdigit():
            raise HarnessError(f"{origin}:{number}: not a KEY=VALUE line: {raw.strip()[:60]!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def read_env_file(path: str | Path) -> dict[str, str]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot read environment file {path}: {exc.strerror}") from None
    return parse_env_text(text, str(path))

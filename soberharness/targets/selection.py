"""Turning `--target` into a Target: `local`, `containers`, or a remote target file."""

from __future__ import annotations

from pathlib import Path

from soberharness.errors import HarnessError
from soberharness.targets.base import Target
from soberharness.targets.migrations import REPO, STACK_MIGRATIONS

TARGET_DIRS = (REPO / "fixtures" / "targets",)


def make_target(spec: str, migrations: Path = STACK_MIGRATIONS) -> Target:
    if spec == "local":
        from soberharness.targets.local import LocalTarget

        return LocalTarget(migrations=migrations)
    if spec == "containers":
        from soberharness.targets.containers import ContainersTarget

        return ContainersTarget()
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        from soberharness.targets.remote import load_target_file

        return load_target_file(path)
    for folder in TARGET_DIRS:
        candidate = folder / f"{spec}.toml"
        if candidate.exists():
            from soberharness.targets.remote import load_target_file

            return load_target_file(candidate)
    raise HarnessError(
        f"unknown target '{spec}': use local, containers, or a target file (.toml); "
        "see --list-targets"
    )


def describe_targets() -> list[str]:
    lines = [
        "local       services started as processes on this machine (default)",
        "containers  the official images through testcontainers (needs a Docker engine)",
    ]
    for folder in TARGET_DIRS:
        for path in sorted(folder.glob("*.toml")):
            lines.append(f"{path.stem:<11} remote target file {path.relative_to(REPO)}")
    return lines

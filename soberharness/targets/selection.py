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


def describe_targets(chosen: str = "") -> list[str]:
    """The --list-targets table: name, kind and what each target is, columns aligned; the
    chosen target (--target) too when it is a file outside the target folders."""
    rows = [
        ("local", "local", "services started as processes on this machine (default)"),
        ("containers", "containers",
         "the official images through testcontainers (needs a Docker engine)"),
    ]
    for folder in TARGET_DIRS:
        for path in sorted(folder.glob("*.toml")):
            rows.append((path.stem, "remote", _describe_file(path)))
    chosen_path = Path(chosen) if chosen else None
    if (chosen_path is not None and (chosen_path.suffix == ".toml" or chosen_path.exists())
            and not any(chosen_path.resolve().parent == folder.resolve()
                        for folder in TARGET_DIRS)):
        rows.append((chosen_path.stem, "remote", _describe_file(chosen_path)))
    header = ("target", "kind", "what")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in (0, 1)]
    return [f"{name:<{widths[0]}}  {kind:<{widths[1]}}  {what}".rstrip()
            for name, kind, what in [header, *rows]]


def _describe_file(path: Path) -> str:
    from soberharness.targets.remote import load_target_file

    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    try:
        target = load_target_file(path)
    except HarnessError as exc:
        return f"target file {where} (unusable: {exc})"
    services = ", ".join(sorted(s.value for s in target.services)) or "no services"
    return f"target file {where}: {services}"

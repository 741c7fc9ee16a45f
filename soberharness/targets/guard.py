"""Guard rails: destructive suites (chaos, load, mass deletes) only where a target allows them."""

from __future__ import annotations

from soberharness.errors import DestructiveRefused
from soberharness.targets.base import Target

# Kinds whose stack is started by the harness for this run and thrown away afterwards.
THROWAWAY_KINDS = frozenset({"local", "containers"})


def check_destructive(target: Target, confirm: str | None) -> None:
    """Return if a destructive suite may run on `target`; raise DestructiveRefused otherwise.

    Local and containers targets are the harness's own, made for this run: allowed. A
    remote target needs both `[destructive] allowed = true` in its file and `confirm`
    (from the command line) equal to its name.
    """
    if target.kind in THROWAWAY_KINDS:
        return
    if target.kind != "remote":
        raise DestructiveRefused(
            f"destructive suites refused on target '{target.name}': unknown kind '{target.kind}'"
        )
    if not target.allows_destructive:
        raise DestructiveRefused(
            f"destructive suites refused on remote target '{target.name}': its target file "
            "does not set [destructive] allowed = true"
        )
    if confirm != target.name:
        given = "no confirmation" if not confirm else f"confirmation '{confirm}'"
        raise DestructiveRefused(
            f"destructive suites refused on remote target '{target.name}': {given}; "
            f"confirm with the target's name ('{target.name}') on the command line"
        )

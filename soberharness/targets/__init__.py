"""Where the stack runs: local processes, containers, or a remote deployment."""

from soberharness.targets.base import Keys, Service, Target

__all__ = ["Keys", "Service", "Target"]

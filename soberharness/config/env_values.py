"""Numbers read from environment variables, checked: a bad value is one line naming the
variable (errors.BadInput, exit status 4), never a ValueError from deep in an import."""

from __future__ import annotations

import os

from soberharness.errors import BadInput


def env_int(name: str, default: int, minimum: int = 0) -> int:
    """The integer in `name`, or `default` when it is unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"{name}={raw!r} is not a whole number (unset it for {default})") from None
    if value < minimum:
        raise BadInput(f"{name}={raw!r} is below {minimum} (unset it for {default})")
    return value


def env_seconds(name: str, default: float) -> float:
    """A positive number of seconds in `name`, or `default` when it is unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name}={raw!r} is not a number of seconds (unset it for "
                       f"{default:g})") from None
    if not value > 0 or value != value or value == float("inf"):
        raise BadInput(f"{name}={raw!r} must be a positive number of seconds (unset it for "
                       f"{default:g})")
    return value

"""Judging the tokens GoTrue mints after a user forged their own user_metadata: no claim that
grants anything may move, and no claim may appear: only `user_metadata` (the user's own) and
the times and ids of the new session may differ."""

from __future__ import annotations

from typing import Any

# What differs between two honest sessions of one user; every other claim must not move.
SESSION_CLAIMS = frozenset({"iat", "exp", "session_id", "user_metadata", "nbf", "jti"})


def _amr_methods(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    return sorted(str(e.get("method")) if isinstance(e, dict) else str(e) for e in value)


def privilege_gained(how: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Each claim of `after` (minted after the forgery, by `how`) that differs from `before`
    (minted before it) or was not there; session times and ids and user_metadata aside, and
    `amr` compared by its methods (their times move)."""
    found: list[str] = []
    for claim in sorted((set(before) | set(after)) - SESSION_CLAIMS):
        was, now = before.get(claim), after.get(claim)
        if claim == "amr":
            was, now = _amr_methods(was), _amr_methods(now)
        if claim not in before:
            found.append(f"{how}: claim {claim} appeared ({now!r}) after forging user_metadata")
        elif was != now:
            found.append(f"{how}: claim {claim} was {was!r}, is {now!r} after forging "
                         "user_metadata")
    return found

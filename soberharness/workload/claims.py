"""JWT claims as GoTrue issues them, and tokens signed the way the stack verifies them."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from soberharness.world.entities import Role, Viewer

ISSUER = "soberharness"


def claims_for(viewer: Viewer, email: str | None = None, lifetime: int = 3600) -> dict[str, Any]:
    """The claims of an access token for `viewer`, shaped like GoTrue's (role, sub, aal, ...)."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER, "iat": now, "exp": now + lifetime, "role": viewer.role.value
    }
    if viewer.role is not Role.AUTHENTICATED:
        return base
    app_metadata: dict[str, Any] = {"provider": "email", "providers": ["email"]}
    if viewer.moderator:
        app_metadata["role"] = "moderator"
    return base | {
        "aud": "authenticated",
        "sub": str(viewer.user_id),
        "email": email or "",
        "phone": "",
        "app_metadata": app_metadata,
        "user_metadata": {},
        "aal": viewer.aal,
        "amr": [{"method": "password", "timestamp": now}],
        "session_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"session:{viewer.user_id}")),
        "is_anonymous": False,
    }


def sign(claims: dict[str, Any], secret: str) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def token_for(viewer: Viewer, secret: str, email: str | None = None) -> str:
    return sign(claims_for(viewer, email), secret)

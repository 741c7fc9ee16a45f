"""JWT claims as GoTrue issues them, and tokens signed the way the stack verifies them.

Beside the claims GoTrue sets, a signed-in user controls part of their own token: GoTrue copies
`user_metadata` (which the user writes with `PUT /auth/v1/user`) into every access token, and a
session can reach `aal2` by enrolling a second factor. `TokenVariant` names the shapes the access
matrix sends: as GoTrue issues them to an ordinary user, and forged ones carrying what a user
controls (a moderator role and admin flags in `user_metadata`, someone else's e-mail address,
unknown top-level claims), at `aal1` and `aal2`, with and without `is_anonymous`. Only
`app_metadata`, `role` and `sub` are the server's; none of the forged claims may change an outcome.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any, Literal

import jwt

from soberharness.world.entities import Role, Viewer

ISSUER = "soberharness"

# What a user writes into their own user_metadata to look like a moderator or an admin.
FORGED_USER_METADATA: dict[str, Any] = {
    "role": "moderator",
    "roles": ["moderator", "admin", "service_role"],
    "is_admin": True,
    "admin": True,
    "moderator": True,
    "app_metadata": {"role": "moderator"},
}
# Top-level claims GoTrue never issues, which a careless policy might read.
UNKNOWN_CLAIMS: dict[str, Any] = {
    "user_role": "moderator",
    "app_role": "moderator",
    "is_admin": True,
    "admin": True,
    "moderator": True,
    "groups": ["moderators"],
}


@dataclasses.dataclass(frozen=True)
class TokenVariant:
    """One shape of a signed-in user's token."""

    name: str  # "gotrue", "forged", "forged+anonymous"
    aal: Literal["aal1", "aal2"]
    forged: bool = False  # carries FORGED_USER_METADATA, UNKNOWN_CLAIMS and a spoofed e-mail
    is_anonymous: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} {self.aal}"


PLAIN = TokenVariant("gotrue", "aal1")
TOKEN_VARIANTS: tuple[TokenVariant, ...] = (
    PLAIN,
    TokenVariant("forged", "aal1", forged=True),
    TokenVariant("forged", "aal2", forged=True),
    TokenVariant("forged+anonymous", "aal1", forged=True, is_anonymous=True),
)


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
        "amr": ([{"method": "totp", "timestamp": now}] if viewer.aal == "aal2" else [])
        + [{"method": "password", "timestamp": now}],
        "session_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"session:{viewer.user_id}")),
        "is_anonymous": False,
    }


def variant_claims(
    viewer: Viewer,
    variant: TokenVariant,
    email: str | None = None,
    spoofed_email: str | None = None,
) -> dict[str, Any]:
    """The claims of `viewer`'s token in the shape `variant` names. The viewer's own `aal` is
    kept (the access model reads it); the variant adds only what the model must ignore."""
    claims = claims_for(viewer, email)
    if viewer.role is not Role.AUTHENTICATED:
        return claims
    if variant.is_anonymous:
        claims["is_anonymous"] = True
        claims["amr"] = [{"method": "anonymous", "timestamp": claims["iat"]}]
    if variant.forged:
        claims = UNKNOWN_CLAIMS | claims
        claims["user_metadata"] = dict(FORGED_USER_METADATA)
        if spoofed_email is not None:
            claims["email"] = spoofed_email
            claims["user_metadata"]["email"] = spoofed_email
    return claims


def sign(claims: dict[str, Any], secret: str) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def token_for(viewer: Viewer, secret: str, email: str | None = None) -> str:
    return sign(claims_for(viewer, email), secret)

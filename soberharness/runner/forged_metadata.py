"""A user forges their own user_metadata and asks GoTrue for new tokens.

Signs in with a password (the token before), writes FORGED_USER_METADATA through
`PUT /user` (what any user may do), then mints again by refreshing that session and by a new
password sign-in: each token after is returned with how it was minted, for
checker/token_privilege.py to compare. Whatever GoTrue's hooks add to a token shows here.
"""

from __future__ import annotations

from typing import Any

import jwt

from soberharness.clients.gotrue import GoTrueClient
from soberharness.db.claims import FORGED_USER_METADATA


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a token GoTrue gave us (read, not verified: we judge what it says)."""
    return dict(jwt.decode(token, options={"verify_signature": False}))


def forge_and_mint(auth: GoTrueClient, email: str,
                   password: str) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """The claims before the forgery, and after it per way of minting."""
    session = auth.sign_in_password(email, password)
    before = claims_of(session.access_token)
    auth.update_user(session.access_token, data=FORGED_USER_METADATA)
    refreshed = auth.refresh(session.refresh_token)
    again = auth.sign_in_password(email, password)
    return before, [("refresh_token grant", claims_of(refreshed.access_token)),
                    ("password grant", claims_of(again.access_token))]

"""A user who forges their own user_metadata (`PUT /auth/v1/user`) gets no privilege in the
tokens GoTrue mints afterwards, whatever hooks the target's GoTrue calls: the server's claims
(role, app_metadata, aal, ...) stay as they were and no claim appears."""

from __future__ import annotations

import pytest

from soberharness.checker.token_privilege import privilege_gained
from soberharness.clients.gotrue import GoTrueClient
from soberharness.db.claims import FORGED_USER_METADATA
from soberharness.runner.forged_metadata import forge_and_mint
from soberharness.workload.auth_target import PASSWORD, TestUsers


@pytest.mark.needs("auth")
def test_forged_user_metadata_grants_nothing(auth_client: GoTrueClient,
                                             users: TestUsers) -> None:
    users.confirmed("forger")
    before, after = forge_and_mint(auth_client, users.emails[-1], PASSWORD)
    assert all(claims.get("user_metadata", {}).get("role") == FORGED_USER_METADATA["role"]
               for _, claims in after), "the forgery did not reach the token"
    found = [f for how, claims in after for f in privilege_gained(how, before, claims)]
    assert not found, "\n".join(found)

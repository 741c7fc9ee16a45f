"""Expired, tampered and alg=none tokens: refused by GoTrue, and by the verification the
harness applies before putting a token's claims into the database (as PostgREST does)."""

from __future__ import annotations

import pytest

from soberharness.clients.gotrue import GoTrueClient
from soberharness.db.claims import token_for
from soberharness.runner.tokens_into_rls import TokenRejected, claims_from_token
from soberharness.targets.base import Target
from soberharness.workload.auth_target import PASSWORD, TestUsers
from soberharness.workload.bad_tokens import alg_none, expired, tampered
from soberharness.workload.flow import Flow, refused
from soberharness.world.entities import Role, Viewer, new_id


def forgeries(token: str, secret: str) -> dict[str, str]:
    return {
        "expired": expired(token, secret),
        "tampered (role=service_role)": tampered(token, role="service_role"),
        "tampered (another sub)": tampered(token, sub=str(new_id())),
        "alg=none": alg_none(token),
        "signed with another secret": token.rsplit(".", 1)[0] + "." + token_for(
            Viewer(Role.AUTHENTICATED, new_id()), secret + "-not").rsplit(".", 1)[1],
    }


@pytest.mark.needs("postgres")
def test_the_harness_refuses_forged_tokens_before_they_reach_the_database(
    target: Target,
) -> None:
    secret = target.keys.jwt_secret
    assert secret, f"target '{target.name}' has no JWT secret"
    genuine = token_for(Viewer(Role.AUTHENTICATED, new_id()), secret)
    assert claims_from_token(genuine, secret)["role"] == "authenticated"
    accepted = []
    for name, forged in forgeries(genuine, secret).items():
        try:
            claims_from_token(forged, secret)
        except TokenRejected:
            continue
        accepted.append(name)
    assert accepted == [], f"forged tokens accepted: {accepted}"


@pytest.mark.needs("auth")
def test_gotrue_refuses_forged_tokens(
    target: Target, auth_client: GoTrueClient, users: TestUsers
) -> None:
    flow = Flow("forged tokens")
    secret = target.keys.jwt_secret
    assert secret
    user = users.confirmed("forged")
    session = auth_client.sign_in_password(user.email, PASSWORD)
    with flow.step("the genuine token works"):
        assert auth_client.get_user(session.access_token).id == user.id
    for name, forged in forgeries(session.access_token, secret).items():
        with flow.step(f"{name} refused by GET /user"):
            error = refused(lambda forged=forged: auth_client.get_user(forged))
            assert error.status in (401, 403), error
        with flow.step(f"{name} refused by /logout"):
            error = refused(lambda forged=forged: auth_client.logout(forged, scope="global"))
            assert error.status in (401, 403), error
    with flow.step("the session survived the forged logouts"):
        auth_client.refresh(session.refresh_token)

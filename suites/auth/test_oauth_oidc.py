"""OAuth / OpenID Connect sign-in through GoTrue (seed 1.3.3, 3.1.3), end to end.

The harness starts an OpenID Connect provider on loopback (soberharness.targets.services.
oidc_provider: a stand-in for Google or Keycloak, never for a stack service) where the target's
GoTrue expects it: its Keycloak provider, GOTRUE_EXTERNAL_KEYCLOAK_ENABLED=true and
GOTRUE_EXTERNAL_KEYCLOAK_URL on 127.0.0.1, as the target's settings say (target file
[settings], the compose file; GoTrue's /settings for whether Keycloak is enabled). GoTrue's
real OAuth code runs: the authorize redirect, the callback's code exchange and userinfo, the
user and identity it creates, its linking rule (an identity whose verified e-mail belongs to an
existing user joins that user), and the access token it issues, applied the way PostgREST
applies it.
"""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from soberharness.clients.gotrue import GoTrueClient, GoTrueError, Session
from soberharness.db.sql import rows_below_auth
from soberharness.errors import TargetUnavailable
from soberharness.runner.tokens_into_rls import claims_from_token, compare_with_tokens
from soberharness.targets.base import Target
from soberharness.targets.services.oidc_provider import OpenIDProvider, provider_at
from soberharness.workload.auth_target import TestUsers, auth_flag, auth_setting
from soberharness.workload.flow import Flow
from soberharness.world.token_world import small_world

PROVIDER = "keycloak"
ENABLED = "GOTRUE_EXTERNAL_KEYCLOAK_ENABLED"
URL = "GOTRUE_EXTERNAL_KEYCLOAK_URL"
REDIRECT_TO = "http://127.0.0.1:3000/welcome"


@pytest.fixture(scope="module")
def provider(target: Target) -> Iterator[OpenIDProvider]:
    enabled, enabled_setting = auth_flag(target, ENABLED)
    url = auth_setting(target, URL)
    if not enabled or not url.value:
        pytest.skip(f"target '{target.name}': its 'auth' service has no OpenID provider for the "
                    f"suite ({ENABLED}=true and {URL} on 127.0.0.1 needed): {enabled_setting}, "
                    f"{url}")
    try:
        with provider_at(url.value) as started:
            yield started
    except TargetUnavailable as exc:
        pytest.skip(f"the OpenID provider cannot run where the target's 'auth' expects it: "
                    f"{exc}")


def sign_in_with_provider(auth_client: GoTrueClient, provider: OpenIDProvider,
                          sub: str) -> Session:
    """The browser's round trip: GoTrue's authorize redirect, the provider's consent, GoTrue's
    callback; the session comes back in the app's redirect."""
    to_provider = auth_client.authorize(PROVIDER, redirect_to=REDIRECT_TO)
    assert to_provider.startswith(provider.url + "/protocol/openid-connect/auth"), to_provider
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(to_provider).query))
    assert query["state"] and query["redirect_uri"].endswith("/callback"), query
    back = auth_client.callback(provider.consent(to_provider, sub))
    assert back.location.startswith(REDIRECT_TO), back.location
    session = back.session
    assert session is not None, back.location
    return session


def identities_of(conn: psycopg.Connection, user_id: str) -> dict[str, str]:
    """provider -> provider_id of a user's identities."""
    rows = conn.execute("SELECT provider, provider_id FROM auth.identities WHERE user_id = %s",
                        (user_id,)).fetchall()
    return {provider: provider_id for provider, provider_id in rows}


def user_id_by_email(conn: psycopg.Connection, email: str) -> str | None:
    row = conn.execute("SELECT id::text FROM auth.users WHERE lower(email) = lower(%s)",
                       (email,)).fetchone()
    return row[0] if row else None


@pytest.mark.needs("auth", "postgres")
def test_sign_in_with_openid_connect_creates_the_user_and_identity(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers,
    provider: OpenIDProvider,
) -> None:
    flow = Flow("OpenID Connect sign-in")
    sub, email = users.subject("oidc"), users.email("oidc")
    provider.set_user(sub, {"email": email, "email_verified": True, "name": "Casey Oidc"})
    with flow.step("authorize, consent, callback"):
        session = sign_in_with_provider(auth_client, provider, sub)
    with flow.step("a user and its identity"):
        user_id = user_id_by_email(auth_db, email)
        assert user_id is not None, "GoTrue made no user for the provider's e-mail"
        assert identities_of(auth_db, user_id) == {PROVIDER: sub}
    with flow.step("the access token's claims"):
        assert target.keys.jwt_secret
        claims = claims_from_token(session.access_token, target.keys.jwt_secret)
        assert claims["sub"] == user_id and claims["role"] == "authenticated"
        assert claims["app_metadata"]["provider"] == PROVIDER
        assert claims["user_metadata"].get("full_name") == "Casey Oidc"
    with flow.step("a second sign-in finds the same user"):
        again = sign_in_with_provider(auth_client, provider, sub)
        assert claims_from_token(again.access_token, target.keys.jwt_secret)["sub"] == user_id


@pytest.mark.needs("auth", "postgres")
def test_a_verified_provider_email_links_to_the_existing_user(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers,
    provider: OpenIDProvider,
) -> None:
    """GoTrue's automatic linking: an identity whose e-mail the provider says is verified joins
    the user who already has that e-mail; an unverified one never does."""
    flow = Flow("OpenID Connect linking")
    existing = users.confirmed("link")
    with flow.step("a verified e-mail links"):
        sub = users.subject("oidc")
        provider.set_user(sub, {"email": existing.email, "email_verified": True})
        session = sign_in_with_provider(auth_client, provider, sub)
        assert target.keys.jwt_secret
        assert claims_from_token(session.access_token, target.keys.jwt_secret)["sub"] == \
            existing.id
        assert identities_of(auth_db, existing.id) == {"email": existing.id, PROVIDER: sub}
    with flow.step("an unverified e-mail does not"):
        other = users.subject("oidc-unverified")
        provider.set_user(other, {"email": existing.email, "email_verified": False})
        try:
            stranger = sign_in_with_provider(auth_client, provider, other)
        except GoTrueError as refusal:  # GoTrue may refuse the sign-in outright
            assert refusal.status in (400, 403, 422), refusal
        else:
            claims = claims_from_token(stranger.access_token, target.keys.jwt_secret)
            assert claims["sub"] != existing.id, "an unverified e-mail took over the account"
            users.ids.add(claims["sub"])
        assert set(identities_of(auth_db, existing.id)) == {"email", PROVIDER}


@pytest.mark.needs("auth", "postgres")
def test_the_provider_users_token_reads_what_the_model_allows(
    target: Target, auth_client: GoTrueClient, auth_db: psycopg.Connection, users: TestUsers,
    provider: OpenIDProvider, gotrue_tx: psycopg.Connection,
) -> None:
    flow = Flow("OpenID Connect token into RLS")
    secret = target.keys.jwt_secret
    assert secret
    sub, email = users.subject("oidc-rls"), users.email("oidc-rls")
    provider.set_user(sub, {"email": email, "email_verified": True})
    with flow.step("sign in with the provider"):
        session = sign_in_with_provider(auth_client, provider, sub)
        me = uuid.UUID(claims_from_token(session.access_token, secret)["sub"])
        users.ids.add(str(me))
    with flow.step("a world around the provider's user"):
        others = [uuid.UUID(users.confirmed("oidc-w").id) for _ in range(2)]
        moderator = uuid.UUID(users.confirmed("oidc-m", app_metadata={"role": "moderator"}).id)
        world = small_world([me, *others, moderator])
        gotrue_tx.execute(sql.SQL(";\n").join(rows_below_auth(world)).as_bytes(gotrue_tx))
    with flow.step("rows read with the provider user's token match the model"):
        diffs = compare_with_tokens(gotrue_tx, world, {me: session.access_token}, secret)
        assert not diffs, "\n".join(d.describe() for d in diffs)

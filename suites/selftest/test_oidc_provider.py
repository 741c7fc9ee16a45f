"""The OpenID Connect provider the harness starts for GoTrue's OAuth flow (a stand-in for an
external identity provider, never for a stack service): its authorization-code flow on the
Keycloak-style paths GoTrue's provider calls, the claims it hands out, and its loopback rule.
"""

from __future__ import annotations

import urllib.parse

import httpx
import pytest

from soberharness.errors import TargetUnavailable
from soberharness.targets.services.oidc_provider import OpenIDProvider, provider_at

CALLBACK = "http://127.0.0.1:9/callback"


def test_code_flow_on_keycloak_paths_gives_the_users_claims() -> None:
    with OpenIDProvider() as provider:
        provider.set_user("casey", {"email": "casey@example.test", "email_verified": True,
                                    "name": "Casey"})
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": "gotrue", "redirect_uri": CALLBACK,
            "scope": "openid email profile", "state": "s1"})
        authorize = f"{provider.url}/protocol/openid-connect/auth?{query}"
        form = httpx.get(authorize, timeout=10)
        assert form.status_code == 200 and "sub" in form.text
        back = urllib.parse.urlsplit(provider.consent(authorize, "casey"))
        params = dict(urllib.parse.parse_qsl(back.query))
        assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
        assert params["state"] == "s1" and params["code"]
        token = httpx.post(f"{provider.url}/protocol/openid-connect/token", timeout=10, data={
            "grant_type": "authorization_code", "code": params["code"],
            "redirect_uri": CALLBACK, "client_id": "gotrue", "client_secret": "x"})
        assert token.status_code == 200, token.text
        access = token.json()["access_token"]
        info = httpx.get(f"{provider.url}/protocol/openid-connect/userinfo", timeout=10,
                         headers={"authorization": f"Bearer {access}"})
        assert info.status_code == 200, info.text
        assert info.json() == {"sub": "casey", "email": "casey@example.test",
                               "email_verified": True, "name": "Casey"}
        # An unknown token gets nothing (the library answers 400 invalid_token).
        assert httpx.get(f"{provider.url}/protocol/openid-connect/userinfo", timeout=10,
                         headers={"authorization": "Bearer nope"}).status_code in (400, 401)


def test_provider_listens_on_loopback_only() -> None:
    with pytest.raises(TargetUnavailable, match="loopback only"), \
            provider_at("http://10.0.0.5:8080/realms/x"):
        pass

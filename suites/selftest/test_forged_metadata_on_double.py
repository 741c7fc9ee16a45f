"""The forged-metadata check on the GoTrue protocol double: GoTrue's own claims pass; an access
token hook copying user_metadata.role into app_metadata is named as exactly that claim, for
both ways of minting; a hook adding a claim is named as that claim."""

from __future__ import annotations

from typing import Any

from soberharness.checker.token_privilege import privilege_gained
from soberharness.clients.gotrue import GoTrueClient
from soberharness.runner.forged_metadata import forge_and_mint
from soberharness.testing.gotrue_protocol_double import GoTrueProtocolDouble

EMAIL, PASSWORD = "forger@example.test", "a-long-password-1"


def _found(hook: Any = None) -> list[str]:
    with GoTrueProtocolDouble() as double:
        double.tokens.add_user(EMAIL, PASSWORD)
        double.tokens.access_token_hook = hook
        with GoTrueClient(double.url, "anon-key", timeout=5.0) as client:
            before, after = forge_and_mint(client, EMAIL, PASSWORD)
        assert [m for m, p, _ in double.requests] == ["POST", "PUT", "POST", "POST"]
    assert all(c["user_metadata"]["role"] == "moderator" for _, c in after)
    return [f for how, claims in after for f in privilege_gained(how, before, claims)]


def _trusting_hook(claims: dict[str, Any]) -> dict[str, Any]:
    if claims["user_metadata"].get("role") == "moderator":
        claims["app_metadata"]["role"] = "moderator"
    return claims


def test_gotrue_claims_grant_nothing_after_forging() -> None:
    assert _found() == []


def test_hook_trusting_user_metadata_is_named_per_grant() -> None:
    found = _found(_trusting_hook)
    assert len(found) == 2
    assert [f.split(": claim ")[0] for f in found] == ["refresh_token grant", "password grant"]
    assert all(": claim app_metadata was " in f and "'role': 'moderator'" in f for f in found)


def test_a_claim_appearing_is_named() -> None:
    def adds(claims: dict[str, Any]) -> dict[str, Any]:
        return {**claims, "user_role": claims["user_metadata"].get("role")}

    found = _found(adds)
    assert found == [f"{how}: claim user_role was None, is 'moderator' after forging "
                     "user_metadata" for how in ("refresh_token grant", "password grant")]

    def adds_only_when_forged(claims: dict[str, Any]) -> dict[str, Any]:
        role = claims["user_metadata"].get("role")
        return {**claims, "user_role": role} if role else claims

    assert _found(adds_only_when_forged) == [
        f"{how}: claim user_role appeared ('moderator') after forging user_metadata"
        for how in ("refresh_token grant", "password grant")]


def test_judging_ignores_session_claims_and_amr_times() -> None:
    before = {"role": "authenticated", "iat": 1, "session_id": "a",
              "amr": [{"method": "password", "timestamp": 1}]}
    after = {"role": "authenticated", "iat": 2, "session_id": "b",
             "amr": [{"method": "password", "timestamp": 2}], "user_metadata": {"x": 1}}
    assert privilege_gained("h", before, after) == []
    assert privilege_gained("h", before, {**after, "role": "service_role"}) == [
        "h: claim role was 'authenticated', is 'service_role' after forging user_metadata"]

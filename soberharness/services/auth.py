"""GoTrue (Supabase Auth): sign-up, sessions, MFA, mails through Mailpit."""

from __future__ import annotations

from soberharness.clients.gotrue import GoTrueClient
from soberharness.services.facts import ServiceFacts

FACTS = ServiceFacts("auth", "GoTrue", compose=("auth", "gateway"), gateway_path="/auth/v1",
                     health_path="/health")


def client(url: str, api_key: str, timeout: float = 10.0,
           headers: dict[str, str] | None = None) -> GoTrueClient:
    """A GoTrue client at `url` (the target's auth root), sending `api_key`."""
    return GoTrueClient(url, api_key, timeout=timeout, headers=headers)

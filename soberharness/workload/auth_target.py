"""What the auth suite takes from a target: API keys and clients for its auth and mail."""

from __future__ import annotations

import time

import jwt

from soberharness.errors import HarnessError
from soberharness.target.base import Service, Target
from soberharness.target.services.mailpit import MailpitClient
from soberharness.workload.gotrue_client import GoTrueClient


def _minted(target: Target, role: str) -> str:
    secret = target.keys.jwt_secret
    if not secret:
        raise HarnessError(f"target '{target.name}' gives neither a {role} key nor a JWT secret")
    now = int(time.time())
    return jwt.encode({"role": role, "iss": "supabase", "iat": now, "exp": now + 3600},
                      secret, algorithm="HS256")


def anon_key(target: Target) -> str:
    """The target's anon key, else one signed with its JWT secret (as the stack's keys are)."""
    return target.keys.anon_key or _minted(target, "anon")


def service_key(target: Target) -> str:
    return target.keys.service_key or _minted(target, "service_role")


def gotrue(target: Target, admin: bool = False, timeout: float = 10.0) -> GoTrueClient:
    """A client for the target's auth service, with the anon key or (admin) the service key."""
    key = service_key(target) if admin else anon_key(target)
    return GoTrueClient(target.url(Service.AUTH), key, timeout=timeout)


def mailpit(target: Target, timeout: float = 5.0) -> MailpitClient:
    return MailpitClient(target.url(Service.MAIL), timeout=timeout)

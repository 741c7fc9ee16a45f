"""What the auth suite takes from a target: API keys and clients for its auth and mail."""

from __future__ import annotations

import time
import uuid

import jwt
import psycopg

from soberharness.clients.gotrue import AuthUser, GoTrueClient
from soberharness.errors import HarnessError
from soberharness.targets.base import Service, Target
from soberharness.targets.services.mailpit import MailpitClient

DOMAIN = "auth-suite.sobertube.test"
PASSWORD = "Sober-Tube-2026!"


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


class TestUsers:
    """Unique e-mails for one test and users made through the admin API; `remove_all()`
    deletes every user with one of those e-mails (cascading to identities, sessions and their
    refresh tokens, factors, profiles)."""

    __test__ = False  # not a pytest test class

    def __init__(self, admin: GoTrueClient, dsn: str) -> None:
        self.admin = admin
        self.dsn = dsn
        self.emails: list[str] = []

    def email(self, label: str = "u") -> str:
        address = f"{label}-{uuid.uuid4().hex[:10]}@{DOMAIN}"
        self.emails.append(address)
        return address

    def confirmed(
        self,
        label: str = "u",
        password: str = PASSWORD,
        app_metadata: dict[str, object] | None = None,
    ) -> AuthUser:
        return self.admin.admin_create_user(
            self.email(label), password, email_confirm=True, app_metadata=app_metadata
        )

    def remove_all(self) -> None:
        if not self.emails:
            return
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute("DELETE FROM auth.users WHERE lower(email) = ANY(%s)",
                         ([e.lower() for e in self.emails],))

"""What the auth suite takes from a target: API keys and clients for its auth and mail."""

from __future__ import annotations

import re
import time
import uuid

import jwt
import psycopg

from soberharness.clients.gotrue import AuthUser, GoTrueClient
from soberharness.clients.mailpit_api import MailpitClient
from soberharness.errors import HarnessError
from soberharness.services import auth
from soberharness.targets.base import Service, Target

DOMAIN = "auth-suite.sobertube.test"
PASSWORD = "Sober-Tube-2026!"

REUSE_INTERVAL = "GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL"
# GoTrue's defaults (internal/conf/configuration.go) for the settings the suite depends on,
# used where the target does not say (target file [settings], the compose file's env).
GOTRUE_DEFAULTS = {
    REUSE_INTERVAL: "10",
    "GOTRUE_MFA_MAX_ENROLLED_FACTORS": "10",
    "GOTRUE_SESSIONS_TIMEBOX": "0",
    "GOTRUE_SESSIONS_INACTIVITY_TIMEOUT": "0",
    "GOTRUE_SESSIONS_SINGLE_PER_USER": "false",
    "GOTRUE_RATE_LIMIT_HEADER": "",
    "GOTRUE_RATE_LIMIT_EMAIL_SENT": "30",
    "GOTRUE_RATE_LIMIT_TOKEN_REFRESH": "150",
    "GOTRUE_RATE_LIMIT_VERIFY": "30",
    "GOTRUE_RATE_LIMIT_OTP": "30",
}


def auth_setting(target: Target, name: str) -> str:
    """A GoTrue setting of the target, else GoTrue's default."""
    return target.settings.get(name, GOTRUE_DEFAULTS[name])


_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6,
             "ns": 1e-9}
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")


def go_duration(text: str) -> float:
    """Seconds in a Go duration ("8s", "1m30s", "10h"; a bare number: seconds; "" or "0": 0)."""
    text = text.strip()
    if text in ("", "0"):
        return 0.0
    try:
        return float(text)
    except ValueError:
        pass
    parts = _GO_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise HarnessError(f"{text!r} is not a duration (like 8s, 1m30s, 10h)")
    return sum(float(n) * _GO_UNITS[u] for n, u in parts)


def auth_seconds(target: Target, name: str) -> float:
    """A GoTrue duration setting of the target in seconds (0: off)."""
    try:
        return go_duration(auth_setting(target, name))
    except HarnessError as exc:
        raise HarnessError(f"target '{target.name}': {name}: {exc}") from None


def auth_flag(target: Target, name: str) -> bool:
    return auth_setting(target, name).strip().lower() in ("true", "1", "yes")


def reuse_interval(target: Target) -> int:
    value = auth_setting(target, REUSE_INTERVAL)
    try:
        return int(value)
    except ValueError:
        raise HarnessError(f"target '{target.name}': {REUSE_INTERVAL} = {value!r} is not a "
                           "number of seconds") from None


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


def gotrue(target: Target, admin: bool = False, timeout: float = 10.0,
           headers: dict[str, str] | None = None) -> GoTrueClient:
    """A client for the target's auth service, with the anon key or (admin) the service key."""
    key = service_key(target) if admin else anon_key(target)
    return auth.client(target.url(Service.AUTH), key, timeout=timeout, headers=headers)


def mailpit(target: Target, timeout: float = 5.0) -> MailpitClient:
    return MailpitClient(target.url(Service.MAIL), timeout=timeout)


class TestUsers:
    """Unique e-mails for one test and users made through the admin API; `remove_all()`
    deletes every one of them by id (cascading to identities, sessions and their refresh
    tokens, factors, profiles).

    By id, not by e-mail: a soft delete (DELETE /admin/users/{id} with should_soft_delete)
    obfuscates the user's e-mail, so a user soft-deleted by a test would stay behind if it
    were looked up by its address. Ids are recorded as users are made here (`confirmed`),
    given with `track`, and looked up by the handed-out e-mails once more at the end."""

    __test__ = False  # not a pytest test class

    def __init__(self, admin: GoTrueClient, dsn: str) -> None:
        self.admin = admin
        self.dsn = dsn
        self.emails: list[str] = []
        self.ids: set[str] = set()

    def email(self, label: str = "u") -> str:
        address = f"{label}-{uuid.uuid4().hex[:10]}@{DOMAIN}"
        self.emails.append(address)
        return address

    def track(self, user: AuthUser) -> AuthUser:
        """Remember a user made elsewhere (a sign-up) for removal; returns it."""
        if user.id:
            self.ids.add(user.id)
        return user

    def confirmed(
        self,
        label: str = "u",
        password: str = PASSWORD,
        app_metadata: dict[str, object] | None = None,
    ) -> AuthUser:
        return self.track(self.admin.admin_create_user(
            self.email(label), password, email_confirm=True, app_metadata=app_metadata
        ))

    def remove_all(self) -> None:
        if not self.emails and not self.ids:
            return
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
            found = conn.execute("SELECT id::text FROM auth.users WHERE lower(email) = ANY(%s)",
                                 ([e.lower() for e in self.emails],)).fetchall()
            ids = sorted(self.ids | {row[0] for row in found})
            conn.execute("DELETE FROM auth.users WHERE id = ANY(%s::uuid[])", (ids,))

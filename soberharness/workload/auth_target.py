"""What the auth suite takes from a target: API keys and clients for its auth and mail."""

from __future__ import annotations

import time
import uuid
import weakref
from typing import Any

import httpx
import jwt

from soberharness.clients.gotrue import AuthUser, GoTrueClient, GoTrueError
from soberharness.clients.mailpit_api import MailpitClient
from soberharness.db import session as db_session
from soberharness.errors import HarnessError
from soberharness.services import auth
from soberharness.targets.base import Service, Target
from soberharness.targets.service_settings import (
    ServiceSettings,
    Setting,
    go_duration,
    gotrue_settings,
)
from soberharness.workload.leftovers import run_mark, table_exists

DOMAIN = "auth-suite.sobertube.test"
PASSWORD = "Sober-Tube-2026!"

REUSE_INTERVAL = "GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL"
ROTATION = "GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED"
ALGORITHM = "GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION"
SETTINGS_TIMEOUT_S = 5.0

_known: weakref.WeakKeyDictionary[Target, ServiceSettings] = weakref.WeakKeyDictionary()


def _reported(target: Target) -> tuple[dict[str, Any] | None, str]:
    """GoTrue's GET /settings body on the target (None when it has no auth or no answer)."""
    if Service.AUTH not in target.services:
        return None, "GoTrue GET /settings (the target offers no 'auth')"
    try:
        with gotrue(target, timeout=SETTINGS_TIMEOUT_S) as client:
            return client.settings(), f"GoTrue GET {target.url(Service.AUTH)}/settings"
    except (GoTrueError, HarnessError, httpx.HTTPError, ValueError) as exc:
        return None, f"GoTrue GET /settings (no answer: {type(exc).__name__})"


def auth_settings(target: Target) -> ServiceSettings:
    """GoTrue's settings on the target, asked of its /settings once per target."""
    known = _known.get(target)
    if known is None:
        body, reported_from = _reported(target)
        known = _known[target] = gotrue_settings(target.settings, target.settings_source, body,
                                                 reported_from)
    return known


def auth_setting(target: Target, name: str) -> Setting:
    """A GoTrue setting of the target with where it came from: the target's declaration, else
    GoTrue's /settings, else GoTrue's default at the pinned version (service_settings.py)."""
    try:
        return auth_settings(target).resolve(name)
    except HarnessError as exc:
        raise HarnessError(f"target '{target.name}': {exc}") from None


def auth_seconds(target: Target, name: str) -> tuple[float, Setting]:
    """A GoTrue duration setting of the target in seconds (0: off), and the setting."""
    setting = auth_setting(target, name)
    try:
        return go_duration(setting.value), setting
    except HarnessError as exc:
        raise HarnessError(f"target '{target.name}': {setting}: {exc}") from None


def auth_flag(target: Target, name: str) -> tuple[bool, Setting]:
    setting = auth_setting(target, name)
    return setting.value.strip().lower() in ("true", "1", "yes"), setting


def auth_number(target: Target, name: str) -> tuple[float, Setting]:
    setting = auth_setting(target, name)
    try:
        return float(setting.value), setting
    except ValueError:
        raise HarnessError(f"target '{target.name}': {setting} is not a number") from None


def reuse_interval(target: Target) -> tuple[int, Setting]:
    """GoTrue's refresh-token reuse interval on the target in whole seconds, and the setting."""
    seconds, setting = auth_number(target, REUSE_INTERVAL)
    if seconds != int(seconds) or seconds < 0:
        raise HarnessError(f"target '{target.name}': {setting} is not a number of seconds")
    return int(seconds), setting


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
    """Unique e-mails and provider subjects for one test, and users made through the admin
    API; `remove_all()` deletes every one of them by id (cascading to identities, sessions and
    their refresh tokens, factors, profiles).

    Every e-mail and subject carries the run's mark (workload/leftovers.py), so the run-end
    leftover check finds whatever a test leaves behind. Users are removed by id, not by
    e-mail: a soft delete (DELETE /admin/users/{id} with should_soft_delete) obfuscates the
    e-mail, and a sign-in through an identity provider can leave a user with no e-mail at all
    (GoTrue creates the user and its identity before refusing an unverified e-mail with 422).
    Ids are recorded as users are made here (`confirmed`), given with `track`, and looked up
    at the end by the handed-out e-mails and by the identities of the handed-out subjects."""

    __test__ = False  # not a pytest test class

    def __init__(self, admin: GoTrueClient, dsn: str, run_id: str = "") -> None:
        self.admin = admin
        self.dsn = dsn
        self.mark = run_mark(run_id) if run_id else ""
        self.emails: list[str] = []
        self.subjects: list[str] = []
        self.ids: set[str] = set()

    def _unique(self, label: str) -> str:
        return "-".join(p for p in (label, self.mark, uuid.uuid4().hex[:10]) if p)

    def email(self, label: str = "u") -> str:
        address = f"{self._unique(label)}@{DOMAIN}"
        self.emails.append(address)
        return address

    def subject(self, label: str = "oidc") -> str:
        """A subject (provider user id) for an identity provider's user."""
        sub = self._unique(label)
        self.subjects.append(sub)
        return sub

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
        if not self.emails and not self.ids and not self.subjects:
            return
        with db_session.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SET statement_timeout = '30s'")
            found = conn.execute("SELECT id::text FROM auth.users WHERE lower(email) = ANY(%s)",
                                 ([e.lower() for e in self.emails],)).fetchall()
            ids = self.ids | {row[0] for row in found}
            if self.subjects and table_exists(conn, "auth.identities"):
                ids |= {row[0] for row in conn.execute(
                    "SELECT user_id::text FROM auth.identities WHERE provider_id = ANY(%s)",
                    (self.subjects,))}
            conn.execute("DELETE FROM auth.users WHERE id = ANY(%s::uuid[])", (sorted(ids),))

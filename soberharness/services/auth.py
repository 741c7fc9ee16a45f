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


# GoTrue's audit trail (supabase/auth internal/models/audit_log_entry.go, AuditAction and
# ActionLogTypeMap; same at v2.186.0 and v2.196.0): the actions the harness's calls make it log,
# with where GoTrue logs each. Its table, in the schema GoTrue owns:
AUDIT_TABLE = "auth.audit_log_entries"
# Off (not written to PostgreSQL, only to GoTrue's own log) when this setting is true
# (internal/conf/configuration.go, AuditLogConfiguration.DisablePostgres).
AUDIT_DISABLE_POSTGRES = "GOTRUE_AUDIT_LOG_DISABLE_POSTGRES"
AUDIT_SIGNED_UP = "user_signedup"  # signup.go with autoconfirm; verify.go on confirmation
AUDIT_CONFIRMATION_REQUESTED = "user_confirmation_requested"  # signup.go, no autoconfirm
AUDIT_LOGIN = "login"  # token.go, password grant
AUDIT_TOKEN_REFRESHED = "token_refreshed"  # internal/tokens/service.go, refresh grant
AUDIT_TOKEN_REVOKED = "token_revoked"  # models/refresh_token.go, the swapped refresh token
AUDIT_LOGOUT = "logout"  # logout.go
AUDIT_USER_MODIFIED = "user_modified"  # admin.go adminUserUpdate (actor: the admin)
AUDIT_USER_DELETED = "user_deleted"  # admin.go adminUserDelete (actor: the admin)
# The actor of an admin call made with an API key (api/auth.go requireAdmin): no user, so the
# nil UUID, named by the key's role (User{Email: role}).
AUDIT_KEY_ACTOR_ID = "00000000-0000-0000-0000-000000000000"

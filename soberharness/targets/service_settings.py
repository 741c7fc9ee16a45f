"""Where a service's setting comes from, never assumed: one typed resolver.

A test that depends on a setting of a service (GoTrue's refresh-token reuse interval, its rate
limits, ...) asks `resolve()`, which takes, in this order:

1. the value the target declares: a remote target file's `[settings]`, the compose file's
   environment for `containers` (`Target.settings`, described by `Target.settings_source`);
2. else the value the service itself reports (GoTrue's `GET /settings`, see
   `GOTRUE_REPORTED`);
3. else the service's real default at the version the stack pins, read from the service's
   source (`GOTRUE_DEFAULTS`, each with the file and tag it was read from).

A setting the harness knows no default for is an error, not a guess. Every `Setting` carries
its source, so a failure or a skip says where the value came from.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from soberharness.errors import HarnessError


class SourceKind(StrEnum):
    DECLARED = "declared by the target"
    REPORTED = "reported by the service"
    DEFAULT = "the service's default"


@dataclasses.dataclass(frozen=True)
class Setting:
    """A setting's value ("" when unset) and where it came from."""

    name: str
    value: str
    kind: SourceKind
    source: str  # e.g. "target file x.toml", "GoTrue GET /settings (mailer_autoconfirm)"

    def describe(self) -> str:
        shown = self.value if self.value != "" else "unset"
        return f"{self.name}={shown} (from {self.source})"

    def __str__(self) -> str:
        return self.describe()


@dataclasses.dataclass(frozen=True)
class Default:
    """A service's default for one setting, as its source at `versions` says."""

    value: str  # "" for unset (a pointer or string without a default)
    cite: str  # where in the source it was read


# GoTrue (supabase/auth) versions the defaults below were read at: the former pin (v2.186.0) and
# the version stack/compose and stack/k8s pin now, the newest tag (v2.196.0). A selftest fails
# when the pin moves to a version not listed here, so that the defaults are read again.
GOTRUE_DEFAULTS_READ_AT = ("v2.186.0", "v2.196.0")
_CONF = "internal/conf/configuration.go"
GOTRUE_DEFAULTS: Mapping[str, Default] = {
    # SecurityConfiguration.RefreshTokenReuseInterval is an int without a `default` tag:
    # unset means 0 (no reuse interval).
    "GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL": Default(
        "0", f"{_CONF} SecurityConfiguration.RefreshTokenReuseInterval: no default tag"),
    "GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED": Default(
        "true", f"{_CONF} SecurityConfiguration.RefreshTokenRotationEnabled default:\"true\""),
    # 0 and 1: the refresh-token rows of auth.refresh_tokens; 2: session-based tokens
    # (internal/tokens/service.go).
    "GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION": Default(
        "0", f"{_CONF} SecurityConfiguration.RefreshTokenAlgorithmVersion: no default tag"),
    "GOTRUE_MFA_MAX_ENROLLED_FACTORS": Default(
        "10", f"{_CONF} MFAConfiguration.MaxEnrolledFactors default:\"10\""),
    "GOTRUE_MFA_TOTP_ENROLL_ENABLED": Default(
        "true", f"{_CONF} TOTPFactorTypeConfiguration.EnrollEnabled default:\"true\""),
    "GOTRUE_MFA_TOTP_VERIFY_ENABLED": Default(
        "true", f"{_CONF} TOTPFactorTypeConfiguration.VerifyEnabled default:\"true\""),
    # *time.Duration without a default: nil, no limit.
    "GOTRUE_SESSIONS_TIMEBOX": Default(
        "", f"{_CONF} SessionsConfiguration.Timebox: a pointer without default (no limit)"),
    "GOTRUE_SESSIONS_INACTIVITY_TIMEOUT": Default(
        "", f"{_CONF} SessionsConfiguration.InactivityTimeout: a pointer without default"),
    "GOTRUE_SESSIONS_SINGLE_PER_USER": Default(
        "false", f"{_CONF} SessionsConfiguration.SinglePerUser: no default tag"),
    "GOTRUE_RATE_LIMIT_HEADER": Default(
        "", f"{_CONF} GlobalConfiguration.RateLimitHeader: no default tag"),
    # A bare number is events per hour (internal/conf/rate.go, Rate.Decode).
    "GOTRUE_RATE_LIMIT_EMAIL_SENT": Default(
        "30", f"{_CONF} GlobalConfiguration.RateLimitEmailSent default:\"30\" (per hour)"),
    "GOTRUE_RATE_LIMIT_TOKEN_REFRESH": Default(
        "150", f"{_CONF} GlobalConfiguration.RateLimitTokenRefresh default:\"150\""),
    "GOTRUE_RATE_LIMIT_VERIFY": Default(
        "30", f"{_CONF} GlobalConfiguration.RateLimitVerify default:\"30\""),
    "GOTRUE_RATE_LIMIT_OTP": Default(
        "30", f"{_CONF} GlobalConfiguration.RateLimitOtp default:\"30\""),
    "GOTRUE_EXTERNAL_KEYCLOAK_ENABLED": Default(
        "false", f"{_CONF} OAuthProviderConfiguration.Enabled: no default tag"),
    "GOTRUE_EXTERNAL_KEYCLOAK_URL": Default(
        "", f"{_CONF} OAuthProviderConfiguration.URL: no default tag"),
    "GOTRUE_MAILER_AUTOCONFIRM": Default(
        "false", f"{_CONF} MailerConfiguration.Autoconfirm: no default tag"),
    "GOTRUE_DISABLE_SIGNUP": Default(
        "false", f"{_CONF} GlobalConfiguration.DisableSignup: no default tag"),
    "GOTRUE_EXTERNAL_EMAIL_ENABLED": Default(
        "true", f"{_CONF} EmailProviderConfiguration.Enabled default:\"true\""),
    # Whether GoTrue writes its audit trail to auth.audit_log_entries (it always logs it too):
    # AuditLogConfiguration, `AuditLog` of GlobalConfiguration (split words: AUDIT_LOG).
    "GOTRUE_AUDIT_LOG_DISABLE_POSTGRES": Default(
        "false", f"{_CONF} AuditLogConfiguration.DisablePostgres default:\"false\""),
    # 0 becomes one minute in ApplyDefaults.
    "GOTRUE_SMTP_MAX_FREQUENCY": Default(
        "1m", f"{_CONF} ApplyDefaults: SMTP.MaxFrequency 0 becomes 1 minute"),
}

# What GoTrue's GET /settings reports (internal/api/settings.go, the `Settings` struct, same
# at v2.186.0 and v2.196.0), as the path of each field in its JSON body.
GOTRUE_REPORTED: Mapping[str, tuple[str, ...]] = {
    "GOTRUE_EXTERNAL_KEYCLOAK_ENABLED": ("external", "keycloak"),
    "GOTRUE_EXTERNAL_EMAIL_ENABLED": ("external", "email"),
    "GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED": ("external", "anonymous_users"),
    "GOTRUE_MAILER_AUTOCONFIRM": ("mailer_autoconfirm",),
    "GOTRUE_DISABLE_SIGNUP": ("disable_signup",),
}


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


def gotrue_default_source(name: str) -> str:
    default = GOTRUE_DEFAULTS[name]
    return f"GoTrue's default at {'/'.join(GOTRUE_DEFAULTS_READ_AT)} ({default.cite})"


def reported_by_gotrue(body: Mapping[str, Any]) -> dict[str, str]:
    """The settings a GoTrue `GET /settings` body reports, by environment variable name."""
    found: dict[str, str] = {}
    for name, path in GOTRUE_REPORTED.items():
        value: Any = body
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, bool):
            found[name] = str(value).lower()
        elif isinstance(value, (str, int, float)):
            found[name] = str(value)
    return found


@dataclasses.dataclass(frozen=True)
class ServiceSettings:
    """What is known about one service's settings on one target, and from where."""

    declared: Mapping[str, str]
    declared_from: str  # "target file x.toml", "compose file ... environment"
    reported: Mapping[str, str]
    reported_from: str  # "GoTrue GET /settings"
    reported_fields: Mapping[str, tuple[str, ...]]  # where in the report each setting is
    defaults: Mapping[str, Default]
    default_source: Callable[[str], str]  # the cite of a default, by setting name

    def resolve(self, name: str) -> Setting:
        if name in self.declared:
            return Setting(name, self.declared[name], SourceKind.DECLARED, self.declared_from)
        if name in self.reported:
            field = ".".join(self.reported_fields.get(name, ()))
            return Setting(name, self.reported[name], SourceKind.REPORTED,
                           f"{self.reported_from}, {field}" if field else self.reported_from)
        if name in self.defaults:
            return Setting(name, self.defaults[name].value, SourceKind.DEFAULT,
                           self.default_source(name))
        raise HarnessError(f"{name}: not declared by the target ({self.declared_from}), not "
                           f"reported by the service, and the harness knows no default for it "
                           "(add it, read from the service's source, to "
                           "soberharness/targets/service_settings.py)")


def gotrue_settings(declared: Mapping[str, str], declared_from: str,
                    settings_body: Mapping[str, Any] | None,
                    reported_from: str = "GoTrue GET /settings") -> ServiceSettings:
    """GoTrue's settings on a target: its declaration, its `/settings` body (None when it was
    not asked or did not answer), GoTrue's defaults."""
    return ServiceSettings(
        declared=declared, declared_from=declared_from,
        reported=reported_by_gotrue(settings_body or {}), reported_from=reported_from,
        reported_fields=GOTRUE_REPORTED,
        defaults=GOTRUE_DEFAULTS, default_source=gotrue_default_source,
    )

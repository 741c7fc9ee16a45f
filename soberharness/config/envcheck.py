"""Validate an environment file of the self-hosted stack (seed 1.1.2).

    python -m soberharness.config.envcheck stack/env/local.env.example
    python -m soberharness.config.envcheck /etc/sobertube/.env --production

Prints one line per problem and exits 1, or prints "ok" and exits 0. The checks: every
key the compose file needs is present; the JWT secret is long and not a published
placeholder; ANON_KEY and SERVICE_ROLE_KEY are HS256 tokens signed with that secret,
carrying role anon / service_role and not expired; the public URLs agree with each other;
in a production file, no secret is a placeholder, a published default or a local value.
"""

from __future__ import annotations

import argparse
import re
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import jwt

from soberharness.config.cli import report_problems
from soberharness.config.envfile import read_env_file
from soberharness.paths import REPO as REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "stack" / "compose" / "docker-compose.yml"
TEMPLATES = {
    "local": REPO_ROOT / "stack" / "env" / "local.env.example",
    "production": REPO_ROOT / "stack" / "env" / "production.env.example",
}

# Every key the compose file interpolates (the selftests hold the two lists together).
REQUIRED_KEYS: frozenset[str] = frozenset(
    {
        # secrets
        "POSTGRES_PASSWORD",
        "JWT_SECRET",
        "ANON_KEY",
        "SERVICE_ROLE_KEY",
        "SECRET_KEY_BASE",
        "REALTIME_DB_ENC_KEY",
        "MINIO_ROOT_USER",
        "MINIO_ROOT_PASSWORD",
        "REDIS_PASSWORD",
        # public URLs
        "SUPABASE_PUBLIC_URL",
        "API_EXTERNAL_URL",
        "SITE_URL",
        "ADDITIONAL_REDIRECT_URLS",
        # ports published on 127.0.0.1
        "GATEWAY_HTTP_PORT",
        "DB_PUBLISHED_PORT",
        "MAILPIT_UI_PORT",
        # database
        "POSTGRES_HOST",
        "POSTGRES_PORT",
        "POSTGRES_DB",
        # auth
        "JWT_EXPIRY",
        "DISABLE_SIGNUP",
        "ENABLE_EMAIL_SIGNUP",
        "ENABLE_EMAIL_AUTOCONFIRM",
        "ENABLE_ANONYMOUS_USERS",
        "ENABLE_PHONE_SIGNUP",
        "ENABLE_PHONE_AUTOCONFIRM",
        "MFA_TOTP_ENROLL_ENABLED",
        "MFA_TOTP_VERIFY_ENABLED",
        "SMTP_ADMIN_EMAIL",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USER",
        "SMTP_PASS",
        "GRAFANA_ADMIN_PASSWORD",
        "SMTP_SENDER_NAME",
        "MAILER_URLPATHS_INVITE",
        "MAILER_URLPATHS_CONFIRMATION",
        "MAILER_URLPATHS_RECOVERY",
        "MAILER_URLPATHS_EMAIL_CHANGE",
        # rest
        "PGRST_DB_SCHEMAS",
        "PGRST_DB_MAX_ROWS",
        "PGRST_DB_EXTRA_SEARCH_PATH",
        # storage
        "GLOBAL_S3_BUCKET",
        "STORAGE_TENANT_ID",
        "REGION",
        "STORAGE_FILE_SIZE_LIMIT",
        "IMGPROXY_ENABLE_WEBP_DETECTION",
        # functions
        "FUNCTIONS_VERIFY_JWT",
    }
)

# Keys whose values are secrets: in a production file none may be a placeholder.
SECRET_KEYS: tuple[str, ...] = (
    "POSTGRES_PASSWORD",
    "JWT_SECRET",
    "ANON_KEY",
    "SERVICE_ROLE_KEY",
    "SECRET_KEY_BASE",
    "REALTIME_DB_ENC_KEY",
    "MINIO_ROOT_PASSWORD",
    "REDIS_PASSWORD",
    "SMTP_PASS",
    "GRAFANA_ADMIN_PASSWORD",
)
PASSWORD_KEYS: tuple[str, ...] = (
    "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD",
)

MIN_JWT_SECRET = 32
MIN_PRODUCTION_PASSWORD = 16
MIN_SECRET_KEY_BASE = 64  # Phoenix (Realtime) refuses shorter ones
REALTIME_ENC_KEY_LENGTH = 16  # AES-128 key used by Realtime for tenant secrets

# Defaults published in Supabase's docker/.env.example and similar public templates:
# a deployment using one of them has a secret everybody knows.
KNOWN_PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "your-super-secret-jwt-token-with-at-least-32-characters-long",
        "your-super-secret-and-long-postgres-password",
        "this_password_is_insecure_and_should_be_updated",
        "UpNVntn3cDxHJpq99YMc1T1AQgQpc8kfYTuRgBiYa15BLrx8etQoXz3gZv1/u2oq",
        "your-32-character-encryption-key",
        "your-encryption-key-32-chars-min",
        "supabaserealtime",
        "admin",  # Grafana's built-in admin password
        "secret1234",
        "super-secret-jwt-token-with-at-least-32-characters-long",
        "postgres",
        "password",
        "changeme",
        "fake_mail_password",
    }
)
PLACEHOLDER_PATTERN = re.compile(
    r"change[-_ ]?me|replace[-_ ]?me|your[-_]|placeholder|example|xxx|<[^>]*>|^todo$|insecure",
    re.IGNORECASE,
)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SMTP_SINK_HOSTS = frozenset({"mail", "mailpit", "inbucket", "localhost", "127.0.0.1"})


def looks_like_placeholder(value: str) -> bool:
    return (
        not value
        or value in KNOWN_PLACEHOLDERS
        or bool(PLACEHOLDER_PATTERN.search(value))
        or len(set(value)) <= 2
    )


def make_api_key(secret: str, role: str, expires_at: int, issuer: str = "supabase") -> str:
    """An API key as Supabase's self-hosting guide makes them: HS256, role, iss, iat, exp."""
    claims = {"role": role, "iss": issuer, "iat": int(time.time()), "exp": int(expires_at)}
    return jwt.encode(claims, secret, algorithm="HS256")


def _check_api_key(
    name: str, token: str, role: str, secret: str | None, now: float
) -> Iterable[str]:
    if not token:
        return
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        yield f"{name}: not a JWT"
        return
    if header.get("alg") != "HS256":
        yield f"{name}: signed with {header.get('alg')!r}, expected HS256"
        return
    if secret is None:
        return
    try:
        with warnings.catch_warnings():  # a short secret is reported as a problem of its own
            warnings.simplefilter("ignore")
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iat": False},
            )
    except jwt.InvalidSignatureError:
        yield f"{name}: signature does not match JWT_SECRET"
        return
    except jwt.PyJWTError as exc:
        yield f"{name}: cannot be decoded: {exc}"
        return
    if claims.get("role") != role:
        yield f"{name}: role claim is {claims.get('role')!r}, expected {role!r}"
    exp = claims.get("exp")
    if exp is not None:
        if not isinstance(exp, int | float):
            yield f"{name}: exp claim is not a number"
        elif exp <= now:
            when = time.strftime("%Y-%m-%d", time.gmtime(exp))
            yield f"{name}: expired on {when}"


def _parse_url(name: str, value: str) -> tuple[str, str, int | None] | str:
    """(scheme, host, port) or a problem line."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{name}: {value!r} is not an http(s) URL with a host"
    try:
        port = parts.port
    except ValueError:
        return f"{name}: {value!r} has an invalid port"
    return parts.scheme, parts.hostname, port


def _check_urls(env: Mapping[str, str], production: bool) -> Iterable[str]:
    parsed: dict[str, tuple[str, str, int | None]] = {}
    for name in ("SUPABASE_PUBLIC_URL", "API_EXTERNAL_URL", "SITE_URL"):
        if name not in env:
            continue
        result = _parse_url(name, env[name])
        if isinstance(result, str):
            yield result
        else:
            parsed[name] = result
    public = parsed.get("SUPABASE_PUBLIC_URL")
    external = parsed.get("API_EXTERNAL_URL")
    site = parsed.get("SITE_URL")
    # Both name the gateway as the outside world reaches it (Auth builds e-mail links from
    # API_EXTERNAL_URL, Storage builds object URLs from SUPABASE_PUBLIC_URL).
    if public and external and (public[:2] != external[:2] or public[2] != external[2]):
        yield (
            f"API_EXTERNAL_URL ({env['API_EXTERNAL_URL']}) and SUPABASE_PUBLIC_URL "
            f"({env['SUPABASE_PUBLIC_URL']}) name different gateways"
        )
    if site and external and site[0] != external[0]:
        yield f"SITE_URL uses {site[0]} but API_EXTERNAL_URL uses {external[0]}"
    for name, (scheme, host, port) in parsed.items():
        if production and scheme != "https":
            yield f"{name}: production URLs must use https, got {env[name]}"
        if production and host in LOOPBACK_HOSTS:
            yield f"{name}: production URL points at this machine ({host})"
        if not production and host not in LOOPBACK_HOSTS:
            yield f"{name}: a local file's URLs must point at 127.0.0.1/localhost, got {host}"
        if (
            name != "SITE_URL"
            and host in LOOPBACK_HOSTS
            and env.get("GATEWAY_HTTP_PORT", "").isdigit()
            and (port or (443 if scheme == "https" else 80)) != int(env["GATEWAY_HTTP_PORT"])
        ):
            gateway_port = env["GATEWAY_HTTP_PORT"]
            yield f"{name}: port {port} is not the gateway's GATEWAY_HTTP_PORT {gateway_port}"
    for extra in filter(
        None, (u.strip() for u in env.get("ADDITIONAL_REDIRECT_URLS", "").split(","))
    ):
        result = _parse_url("ADDITIONAL_REDIRECT_URLS", extra)
        if isinstance(result, str):
            yield result
        elif production and result[0] != "https":
            yield f"ADDITIONAL_REDIRECT_URLS: production URLs must use https, got {extra}"


def _check_ports(env: Mapping[str, str]) -> Iterable[str]:
    seen: dict[str, str] = {}
    for name in (
        "GATEWAY_HTTP_PORT",
        "DB_PUBLISHED_PORT",
        "MAILPIT_UI_PORT",
        "POSTGRES_PORT",
        "SMTP_PORT",
    ):
        value = env.get(name)
        if value is None:
            continue
        if not value.isdigit() or not 0 < int(value) < 65536:
            yield f"{name}: {value!r} is not a port number"
            continue
        if name in ("GATEWAY_HTTP_PORT", "DB_PUBLISHED_PORT", "MAILPIT_UI_PORT"):
            if value in seen:
                yield f"{name}: port {value} is also {seen[value]}"
            seen[value] = name


UNFILLED_PATTERN = re.compile(r"change[-_ ]?me|replace[-_ ]?me", re.IGNORECASE)


def _placeholders(env: Mapping[str, str]) -> list[str]:
    """Keys of a production file still holding a template value."""
    return sorted(
        name
        for name, value in env.items()
        if UNFILLED_PATTERN.search(value) or (name in SECRET_KEYS and looks_like_placeholder(value))
    )


def _check_secrets(
    env: Mapping[str, str], production: bool, local_values: Mapping[str, str]
) -> Iterable[str]:
    secret = env.get("JWT_SECRET")
    if secret is not None:
        if len(secret) < MIN_JWT_SECRET:
            yield f"JWT_SECRET: {len(secret)} characters, at least {MIN_JWT_SECRET} needed"
        if secret in KNOWN_PLACEHOLDERS:
            yield "JWT_SECRET: is a published placeholder"
    if env.get("ANON_KEY") and env.get("ANON_KEY") == env.get("SERVICE_ROLE_KEY"):
        yield "ANON_KEY and SERVICE_ROLE_KEY are the same token"
    base = env.get("SECRET_KEY_BASE")
    if base is not None and len(base) < MIN_SECRET_KEY_BASE:
        yield f"SECRET_KEY_BASE: {len(base)} characters, at least {MIN_SECRET_KEY_BASE} needed"
    enc = env.get("REALTIME_DB_ENC_KEY")
    if enc is not None and len(enc) != REALTIME_ENC_KEY_LENGTH:
        needed = REALTIME_ENC_KEY_LENGTH
        yield f"REALTIME_DB_ENC_KEY: {len(enc)} characters, exactly {needed} needed"
    if not production:
        return
    for name in SECRET_KEYS:
        value = env.get(name)
        if value is not None and local_values.get(name) == value:
            yield f"{name}: same value as in the local template"
    for name in PASSWORD_KEYS:
        value = env.get(name)
        if value is not None and len(value) < MIN_PRODUCTION_PASSWORD:
            yield f"{name}: {len(value)} characters, {MIN_PRODUCTION_PASSWORD} needed in production"
    if env.get("SMTP_HOST", "").lower() in SMTP_SINK_HOSTS:
        yield f"SMTP_HOST: {env['SMTP_HOST']!r} is the local mail sink, not a real mail server"
    if env.get("ENABLE_EMAIL_AUTOCONFIRM", "").lower() == "true":
        yield "ENABLE_EMAIL_AUTOCONFIRM: must be false in production (e-mail addresses unverified)"


def check_env(
    env: Mapping[str, str],
    production: bool = False,
    now: float | None = None,
    local_values: Mapping[str, str] | None = None,
) -> list[str]:
    """All problems of one environment, as lines; empty when it is fine."""
    now = time.time() if now is None else now
    problems = [f"{key}: missing" for key in sorted(REQUIRED_KEYS - env.keys())]
    if production:
        # A key still holding its template value gets that one line, not a list of
        # consequences (too short, not a JWT, ...).
        unfilled = _placeholders(env)
        problems += [f"{key}: placeholder value in a production file" for key in unfilled]
        env = {key: value for key, value in env.items() if key not in unfilled}
    problems += list(_check_secrets(env, production, local_values or {}))
    secret = env.get("JWT_SECRET") or None
    problems += list(_check_api_key("ANON_KEY", env.get("ANON_KEY", ""), "anon", secret, now))
    problems += list(
        _check_api_key(
            "SERVICE_ROLE_KEY", env.get("SERVICE_ROLE_KEY", ""), "service_role", secret, now
        )
    )
    problems += list(_check_urls(env, production))
    problems += list(_check_ports(env))
    if env.get("JWT_EXPIRY") is not None and not env["JWT_EXPIRY"].isdigit():
        problems.append(f"JWT_EXPIRY: {env['JWT_EXPIRY']!r} is not a number of seconds")
    return problems


def check_env_file(path: str | Path, production: bool = False) -> list[str]:
    env = read_env_file(path)
    local_values: dict[str, str] = {}
    if production and TEMPLATES["local"].exists() and Path(path).resolve() != TEMPLATES["local"]:
        local_values = read_env_file(TEMPLATES["local"])
    return check_env(env, production=production, local_values=local_values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m soberharness.config.envcheck",
        description="Validate an environment file of the SoberTube stack.",
    )
    parser.add_argument("file", help="the KEY=VALUE file to check")
    parser.add_argument(
        "--production",
        action="store_true",
        help="also refuse placeholders, local values, plain http and the mail sink",
    )
    args = parser.parse_args(argv)
    return report_problems(
        Path(args.file), lambda: check_env_file(args.file, production=args.production)
    )


if __name__ == "__main__":
    raise SystemExit(main())

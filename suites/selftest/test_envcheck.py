"""The environment validator: each rule catches what it names, the templates pass/fail as meant."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from soberharness.config.envcheck import (
    REQUIRED_KEYS,
    TEMPLATES,
    check_env,
    check_env_file,
    make_api_key,
)
from soberharness.config.envfile import parse_env_text, read_env_file
from soberharness.errors import HarnessError

NOW = 1_800_000_000.0
SUPABASE_DEFAULT_SECRET = "your-super-secret-jwt-token-with-at-least-32-characters-long"


def good_production() -> dict[str, str]:
    """A filled-in production file: the template with real-looking values."""
    env = read_env_file(TEMPLATES["production"])
    secret = "Zq9w3Lr7Xv2Nn8Tt4Pp6Kk1Mm5Bb0Cc9Dd3Ee7Ff2Gg"
    env.update(
        POSTGRES_PASSWORD="pG7tYq2wLx9rVb4nMs8kJd3h",
        JWT_SECRET=secret,
        ANON_KEY=make_api_key(secret, "anon", int(NOW + 86400)),
        SERVICE_ROLE_KEY=make_api_key(secret, "service_role", int(NOW + 86400)),
        SECRET_KEY_BASE="K" + "a1B2c3D4e5F6g7H8i9J0" * 4,
        REALTIME_DB_ENC_KEY="Qw3Er5Ty7Ui9Op1A",
        MINIO_ROOT_PASSWORD="mN4bV6cX8zL1kJ3hG5fD",
        REDIS_PASSWORD="rT5yU7iO9pA1sD3fG5hJ",
        SMTP_HOST="smtp.mailprovider.net",
        SMTP_USER="sobertube",
        SMTP_PASS="sM7tP9pA2sS4wO6rD8zX",
        GRAFANA_ADMIN_PASSWORD="gR4fAn9aD7mIn2pW5qZ8",
        REGION="eu-central-1",
    )
    return env


def local() -> dict[str, str]:
    return read_env_file(TEMPLATES["local"])


def test_local_template_passes() -> None:
    assert check_env(local()) == []


def test_production_template_is_refused_until_filled_in() -> None:
    problems = check_env_file(TEMPLATES["production"], production=True)
    flagged = {line.split(":", 1)[0] for line in problems}
    assert {
        "JWT_SECRET",
        "ANON_KEY",
        "SERVICE_ROLE_KEY",
        "POSTGRES_PASSWORD",
        "SMTP_HOST",
    } <= flagged
    assert all("placeholder" in line for line in problems)


def test_filled_in_production_file_passes() -> None:
    assert check_env(good_production(), production=True, now=NOW, local_values=local()) == []


def test_missing_keys_are_named() -> None:
    env = local()
    del env["JWT_SECRET"], env["SITE_URL"]
    problems = check_env(env)
    assert "JWT_SECRET: missing" in problems
    assert "SITE_URL: missing" in problems


def test_short_or_published_jwt_secret_refused() -> None:
    env = local()
    env["JWT_SECRET"] = "too-short"
    assert any(p.startswith("JWT_SECRET: 9 characters") for p in check_env(env))
    env["JWT_SECRET"] = SUPABASE_DEFAULT_SECRET
    assert "JWT_SECRET: is a published placeholder" in check_env(env)


def test_keys_signed_with_another_secret_refused() -> None:
    env = local()
    env["ANON_KEY"] = make_api_key("another-secret-of-sufficient-length-000", "anon", int(NOW) + 60)
    assert "ANON_KEY: signature does not match JWT_SECRET" in check_env(env, now=NOW)


def test_key_with_wrong_role_refused() -> None:
    env = local()
    env["SERVICE_ROLE_KEY"] = make_api_key(env["JWT_SECRET"], "authenticated", int(NOW) + 60)
    problems = check_env(env, now=NOW)
    assert "SERVICE_ROLE_KEY: role claim is 'authenticated', expected 'service_role'" in problems


def test_expired_key_refused() -> None:
    env = local()
    env["ANON_KEY"] = make_api_key(env["JWT_SECRET"], "anon", int(NOW) - 3600)
    assert any(p.startswith("ANON_KEY: expired on") for p in check_env(env, now=NOW))


def test_local_template_keys_are_not_expired_today() -> None:
    # The keys in the local template are valid today; this fails the day they expire.
    assert not [p for p in check_env(local(), now=time.time()) if "expired" in p]


def test_non_hs256_and_non_jwt_keys_refused() -> None:
    env = local()
    env["ANON_KEY"] = "not-a-token"
    env["SERVICE_ROLE_KEY"] = "eyJhbGciOiJub25lIn0.eyJyb2xlIjoic2VydmljZV9yb2xlIn0."
    problems = check_env(env, now=NOW)
    assert "ANON_KEY: not a JWT" in problems
    assert "SERVICE_ROLE_KEY: signed with 'none', expected HS256" in problems


def test_same_token_for_both_keys_refused() -> None:
    env = local()
    env["SERVICE_ROLE_KEY"] = env["ANON_KEY"]
    assert "ANON_KEY and SERVICE_ROLE_KEY are the same token" in check_env(env, now=NOW)


def test_inconsistent_urls_refused() -> None:
    env = local()
    env["SUPABASE_PUBLIC_URL"] = "http://127.0.0.1:9000"
    problems = check_env(env)
    assert any("name different gateways" in p for p in problems)
    assert any(
        p.startswith("SUPABASE_PUBLIC_URL: port 9000 is not the gateway's") for p in problems
    )


def test_production_urls_must_be_https_and_public() -> None:
    env = good_production()
    env["API_EXTERNAL_URL"] = "http://api.sobertube.example"
    env["SITE_URL"] = "https://localhost"
    problems = check_env(env, production=True, now=NOW)
    assert (
        "API_EXTERNAL_URL: production URLs must use https, got http://api.sobertube.example"
        in problems
    )
    assert "SITE_URL: production URL points at this machine (localhost)" in problems


def test_production_refuses_local_values_sink_and_autoconfirm() -> None:
    env = good_production()
    env["REDIS_PASSWORD"] = local()["REDIS_PASSWORD"]
    env["SMTP_HOST"] = "mail"
    env["ENABLE_EMAIL_AUTOCONFIRM"] = "true"
    problems = check_env(env, production=True, now=NOW, local_values=local())
    assert "REDIS_PASSWORD: same value as in the local template" in problems
    assert any(p.startswith("SMTP_HOST:") for p in problems)
    assert any(p.startswith("ENABLE_EMAIL_AUTOCONFIRM:") for p in problems)


def test_published_defaults_refused_in_production() -> None:
    env = good_production()
    env["POSTGRES_PASSWORD"] = "your-super-secret-and-long-postgres-password"
    env["MINIO_ROOT_PASSWORD"] = "secret1234"
    problems = check_env(env, production=True, now=NOW)
    assert "POSTGRES_PASSWORD: placeholder value in a production file" in problems
    assert "MINIO_ROOT_PASSWORD: placeholder value in a production file" in problems


def test_grafana_built_in_admin_password_refused_in_production() -> None:
    env = good_production()
    env["GRAFANA_ADMIN_PASSWORD"] = "admin"
    assert check_env(env, production=True, now=NOW) == [
        "GRAFANA_ADMIN_PASSWORD: placeholder value in a production file"]


def test_realtime_key_lengths_checked() -> None:
    env = local()
    env["SECRET_KEY_BASE"] = "short"
    env["REALTIME_DB_ENC_KEY"] = "seventeen-chars!!"
    problems = check_env(env)
    assert any(p.startswith("SECRET_KEY_BASE: 5 characters") for p in problems)
    assert any(p.startswith("REALTIME_DB_ENC_KEY: 17 characters") for p in problems)


def test_env_parser_handles_comments_quotes_and_rejects_garbage(tmp_path: Path) -> None:
    assert parse_env_text("# c\n\nA=1\nexport B=\"two words\"\nC='x'\n") == {
        "A": "1",
        "B": "two words",
        "C": "x",
    }
    with pytest.raises(HarnessError, match="not a KEY=VALUE line"):
        parse_env_text("this is not a pair")
    with pytest.raises(HarnessError, match="cannot read environment file"):
        read_env_file(tmp_path / "absent.env")


def test_required_keys_cover_the_secrets() -> None:
    assert {"JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY", "POSTGRES_PASSWORD"} <= REQUIRED_KEYS


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "soberharness.config.envcheck", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_ok_on_local_template() -> None:
    result = _cli(str(TEMPLATES["local"]))
    assert (result.returncode, result.stdout) == (0, "ok\n")


def test_cli_one_line_per_problem_on_production_template() -> None:
    result = _cli(str(TEMPLATES["production"]), "--production")
    lines = result.stdout.splitlines()
    assert result.returncode == 1
    assert len(lines) == len(check_env_file(TEMPLATES["production"], production=True)) > 0
    assert all(line.startswith(str(TEMPLATES["production"]) + ": ") for line in lines)


def test_cli_unreadable_file_is_one_line(tmp_path: Path) -> None:
    result = _cli(str(tmp_path / "nope.env"))
    assert result.returncode == 4
    assert len(result.stderr.strip().splitlines()) == 1

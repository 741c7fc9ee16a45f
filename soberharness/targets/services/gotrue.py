"""GoTrue (Supabase Auth) as a local process, configured through its GOTRUE_* environment.

Names follow GoTrue's own configuration (envconfig with prefix GOTRUE, nested structs joined
with "_"): e.g. GOTRUE_DB_DATABASE_URL, GOTRUE_API_HOST, GOTRUE_API_PORT (alias PORT),
API_EXTERNAL_URL, GOTRUE_MFA_TOTP_ENROLL_ENABLED. Plain `gotrue` (no sub-command) runs its
embedded migrations and then serves; `migrate()` runs only the migrations.

GoTrue reads a `.env` file from its working directory if there is one, so it always runs in its
own work directory.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

from soberharness.errors import TargetUnavailable
from soberharness.services import auth
from soberharness.targets.services.process import ManagedProcess, free_port, http_ready
from soberharness.targets.services.tools import find_tool, missing_reason

HOST = "127.0.0.1"


def database_url(port: int, database: str = "postgres", user: str = "supabase_auth_admin",
                 password: str | None = None, host: str = HOST) -> str:
    """The URL GoTrue connects with: its own role, search_path=auth, no TLS on loopback."""
    auth = f"{user}:{password}" if password else user
    return f"postgres://{auth}@{host}:{port}/{database}?search_path=auth&sslmode=disable"


def _flag(value: bool) -> str:
    return "true" if value else "false"


@dataclasses.dataclass
class GoTrueConfig:
    """What the harness sets for GoTrue. `extra_env` wins over everything derived here."""

    database_url: str  # postgres://supabase_auth_admin@127.0.0.1:PORT/postgres?search_path=auth
    jwt_secret: str
    port: int = 0  # 0: pick a free port when the process is created
    site_url: str = "http://127.0.0.1:3000"
    external_url: str = ""  # API_EXTERNAL_URL; default http://127.0.0.1:<port>
    smtp_host: str = HOST
    smtp_port: int | None = None  # None: no SMTP (mail-sending flows then fail)
    smtp_admin_email: str = "noreply@sobertube.test"
    smtp_sender_name: str = "SoberTube"
    autoconfirm: bool = False
    jwt_exp: int = 3600
    jwt_aud: str = "authenticated"
    jwt_admin_roles: str = "service_role"
    jwt_default_group: str = "authenticated"
    disable_signup: bool = False
    mfa_totp: bool = True
    anonymous_users: bool = False
    uri_allow_list: str = ""
    log_level: str = "info"
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)

    def env(self) -> dict[str, str]:
        if not self.port:
            raise ValueError("GoTrueConfig.port must be set before building the environment")
        external = self.external_url or f"http://{HOST}:{self.port}"
        env = {
            "GOTRUE_DB_DRIVER": "postgres",
            "GOTRUE_DB_DATABASE_URL": self.database_url,
            "GOTRUE_API_HOST": HOST,
            "GOTRUE_API_PORT": str(self.port),
            "PORT": str(self.port),
            "API_EXTERNAL_URL": external,
            "GOTRUE_SITE_URL": self.site_url,
            "GOTRUE_URI_ALLOW_LIST": self.uri_allow_list,
            "GOTRUE_JWT_SECRET": self.jwt_secret,
            "GOTRUE_JWT_EXP": str(self.jwt_exp),
            "GOTRUE_JWT_AUD": self.jwt_aud,
            "GOTRUE_JWT_ADMIN_ROLES": self.jwt_admin_roles,
            # Required although GoTrue logs a deprecation notice for it: without it the
            # tokens carry `role: ""` and PostgREST cannot switch to `authenticated`.
            "GOTRUE_JWT_DEFAULT_GROUP_NAME": self.jwt_default_group,
            "GOTRUE_DISABLE_SIGNUP": _flag(self.disable_signup),
            "GOTRUE_EXTERNAL_EMAIL_ENABLED": "true",
            "GOTRUE_EXTERNAL_PHONE_ENABLED": "false",
            "GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED": _flag(self.anonymous_users),
            "GOTRUE_MAILER_AUTOCONFIRM": _flag(self.autoconfirm),
            "GOTRUE_MAILER_URLPATHS_CONFIRMATION": "/verify",
            "GOTRUE_MAILER_URLPATHS_INVITE": "/verify",
            "GOTRUE_MAILER_URLPATHS_RECOVERY": "/verify",
            "GOTRUE_MAILER_URLPATHS_EMAIL_CHANGE": "/verify",
            "GOTRUE_MFA_TOTP_ENROLL_ENABLED": _flag(self.mfa_totp),
            "GOTRUE_MFA_TOTP_VERIFY_ENABLED": _flag(self.mfa_totp),
            "GOTRUE_LOG_LEVEL": self.log_level,
        }
        if self.smtp_port is not None:
            env.update({
                "GOTRUE_SMTP_HOST": self.smtp_host,
                "GOTRUE_SMTP_PORT": str(self.smtp_port),
                "GOTRUE_SMTP_USER": "gotrue",
                "GOTRUE_SMTP_PASS": "gotrue",
                "GOTRUE_SMTP_ADMIN_EMAIL": self.smtp_admin_email,
                "GOTRUE_SMTP_SENDER_NAME": self.smtp_sender_name,
            })
        env.update(self.extra_env)
        return env


class GoTrueProcess:
    """A GoTrue serving on 127.0.0.1; `start()` migrates then serves and waits for /health."""

    def __init__(
        self,
        config: GoTrueConfig,
        workdir: str | Path,
        binary: str | Path | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        found = Path(binary) if binary else find_tool("gotrue")
        if found is None:
            raise TargetUnavailable(missing_reason("gotrue"))
        self.binary = found
        if not config.port:
            config.port = free_port()
        self.config = config
        self.workdir = Path(workdir)
        self.process = ManagedProcess(
            "gotrue",
            [str(self.binary)],
            env=config.env(),
            log_path=self.workdir / "gotrue.log",
            ready=http_ready(f"{self.url}{auth.FACTS.health_path}"),
            ready_timeout=ready_timeout,
            cwd=self.workdir,
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.config.port}"

    @property
    def port(self) -> int:
        return self.config.port

    def migrate(self, timeout: float = 120.0) -> None:
        """Run GoTrue's embedded migrations only (`gotrue migrate`); one-line error on failure."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "gotrue-migrate.log"
        with log.open("ab") as handle:
            try:
                result = subprocess.run(
                    [str(self.binary), "migrate"],
                    env={**os.environ, **self.config.env()},
                    cwd=self.workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise TargetUnavailable(
                    f"gotrue migrate did not finish within {timeout:g} s (log {log})"
                ) from None
        if result.returncode != 0:
            tail = " | ".join(log.read_text(errors="replace").splitlines()[-5:])
            raise TargetUnavailable(f"gotrue migrate failed ({result.returncode}): {tail}")

    def start(self) -> GoTrueProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.process.stop(timeout)

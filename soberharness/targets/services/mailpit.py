"""Mailpit: the SMTP sink GoTrue sends to, run as a process (its HTTP API client is
soberharness.clients.mailpit_api)."""

from __future__ import annotations

from pathlib import Path

from soberharness.clients.mailpit_api import MailpitClient
from soberharness.errors import TargetUnavailable
from soberharness.services import mail
from soberharness.targets.services.process import (
    HttpService,
    ManagedProcess,
    free_port,
    http_ready,
)
from soberharness.targets.services.tools import find_tool, missing_reason

HOST = "127.0.0.1"


class MailpitProcess(HttpService[MailpitClient]):
    """A Mailpit listening on 127.0.0.1 for SMTP (any credentials accepted) and HTTP."""

    def __init__(
        self,
        workdir: str | Path,
        smtp_port: int | None = None,
        http_port: int | None = None,
        binary: str | Path | None = None,
        max_messages: int = 5000,
        ready_timeout: float = 20.0,
    ) -> None:
        found = Path(binary) if binary else find_tool("mailpit")
        if found is None:
            raise TargetUnavailable(missing_reason("mailpit"))
        self.binary = found
        self.workdir = Path(workdir)
        self.smtp_port = smtp_port or free_port()
        self.http_port = http_port or free_port()
        self.smtp_host = HOST
        argv = [
            str(self.binary),
            "--smtp", f"{HOST}:{self.smtp_port}",
            "--listen", f"{HOST}:{self.http_port}",
            "--database", str(self.workdir / "mailpit.db"),
            "--max", str(max_messages),
            "--smtp-auth-accept-any",
            "--smtp-auth-allow-insecure",
            "--disable-version-check",
        ]
        self.process = ManagedProcess(
            "mailpit",
            argv,
            env=None,
            log_path=self.workdir / "mailpit.log",
            ready=http_ready(f"{self.url}{mail.FACTS.health_path}"),
            ready_timeout=ready_timeout,
            cwd=self.workdir,
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    def _make_client(self) -> MailpitClient:
        return mail.client(self.url)

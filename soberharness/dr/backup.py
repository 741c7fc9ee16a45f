"""A pgBackRest repository of the drill's own: encrypted (aes-256-cbc), with a retention
setting, WAL archived into it by the primary's archive_command. With `second_repo` a second
repository (repo2, standing for another region) is configured beside it, encrypted with a key
of its own; archive-push then pushes every WAL segment to both.

Everything lives under the drill's temporary directory (repository, logs, locks, spool, the
config file); the cipher passphrase is made at random for the drill and never reported.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from soberharness.dr.tools import find_pgbackrest, give_to_server, run
from soberharness.errors import HarnessError

STANZA = "sobertube"
CIPHER = "aes-256-cbc"
RETENTION_FULL = 2


class BackupRepo:
    """The repository and its config file; `settings()` are the primary's archiving settings."""

    def __init__(self, root: Path, pgdata: Path, port: int, socket_dir: Path,
                 user: str = "supabase_admin", retention_full: int = RETENTION_FULL,
                 second_repo: bool = False) -> None:
        self.root = root
        self.repo = root / "repo"
        self.repo2: Path | None = root / "repo2" if second_repo else None
        self.config = root / "pgbackrest.conf"
        self.pgdata = pgdata
        self.port = port
        self.socket_dir = socket_dir
        self.user = user
        self.retention_full = retention_full
        self._passphrase = secrets.token_urlsafe(32)
        self._passphrase2 = secrets.token_urlsafe(32)

    @property
    def program(self) -> str:
        found = find_pgbackrest()
        if found is None:
            raise HarnessError("pgbackrest not installed: run scripts/setup.sh")
        return str(found)

    def write_config(self) -> Path:
        for sub in ("", "repo", "log", "lock", "spool", *(("repo2",) if self.repo2 else ())):
            path = self.root / sub if sub else self.root
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o700)
            give_to_server(path)
        lines = [
            "[global]",
            f"repo1-path={self.repo}",
            f"repo1-cipher-type={CIPHER}",
            f"repo1-cipher-pass={self._passphrase}",
            f"repo1-retention-full={self.retention_full}",
            *self._repo_lines(2, self.repo2, self._passphrase2),
            *self._common_lines(),
            "",
            f"[{STANZA}]",
            f"pg1-path={self.pgdata}",
            f"pg1-port={self.port}",
            f"pg1-socket-path={self.socket_dir}",
            f"pg1-user={self.user}",
            "",
        ]
        self.config.write_text("\n".join(lines))
        os.chmod(self.config, 0o600)
        give_to_server(self.config)
        return self.config

    def _repo_lines(self, index: int, path: Path | None, passphrase: str) -> list[str]:
        if path is None:
            return []
        return [f"repo{index}-path={path}", f"repo{index}-cipher-type={CIPHER}",
                f"repo{index}-cipher-pass={passphrase}",
                f"repo{index}-retention-full={self.retention_full}"]

    def write_second_region_config(self, path: Path, pgdata: Path, port: int,
                                   socket_dir: Path) -> Path:
        """A config file that knows only the second repository (as its repo1, with its own
        key) and the server to restore: what an operator in the other region has."""
        if self.repo2 is None:
            raise HarnessError("this repository has no second repository")
        lines = ["[global]", *self._repo_lines(1, self.repo2, self._passphrase2),
                 *self._common_lines(),
                 "", f"[{STANZA}]", f"pg1-path={pgdata}", f"pg1-port={port}",
                 f"pg1-socket-path={socket_dir}", f"pg1-user={self.user}", ""]
        path.write_text("\n".join(lines))
        os.chmod(path, 0o600)
        give_to_server(path)
        return path

    def _common_lines(self) -> list[str]:
        return [f"log-path={self.root / 'log'}", f"lock-path={self.root / 'lock'}",
                f"spool-path={self.root / 'spool'}", "log-level-console=warn",
                "log-level-file=info", "start-fast=y", "compress-type=lz4", "process-max=1",
                "archive-timeout=30"]

    def settings(self) -> Mapping[str, str]:
        """The primary's settings that archive every WAL segment into the repository."""
        return {
            "archive_mode": "on",
            "archive_command": f"{self.program} --config={self.config} --stanza={STANZA} "
                               "archive-push %p",
            "archive_timeout": "60",
        }

    def values(self) -> dict[str, object]:
        """Placeholders of the runbook's commands."""
        return {"config": self.config, "stanza": STANZA}

    def info(self) -> dict[str, Any]:
        ran = run([self.program, f"--config={self.config}", f"--stanza={STANZA}",
                   "--output=json", "info"], timeout=60)
        if not ran.ok:
            raise HarnessError(f"pgbackrest info failed: {ran.tail()}")
        data = json.loads(ran.stdout)
        return data[0] if data else {}

    def backup_files(self, label: str) -> list[Path]:
        folder = self.repo / "backup" / STANZA / label / "pg_data"
        return sorted(p for p in folder.rglob("*") if p.is_file())

    def repo_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.repo.rglob("*") if p.is_file())


def plant_corruption(path: Path, at: int | None = None) -> int:
    """Flip bytes in the middle of a backup file (a planted defect); returns the offset."""
    size = path.stat().st_size
    if size == 0:
        raise HarnessError(f"cannot corrupt an empty file: {path}")
    offset = size // 2 if at is None else at
    with path.open("r+b") as handle:
        handle.seek(offset)
        chunk = handle.read(16) or b"\0"
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in chunk))
    return offset

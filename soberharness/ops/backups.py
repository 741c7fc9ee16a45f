"""A pgBackRest stanza for the monitoring stack's PostgreSQL: a repository in a folder of the
stack's own, WAL archived into it, full backups on demand, and what `pgbackrest info` says of
the newest one. The server finds the config file through `sober.pgbackrest_config` (set on
its command line), as monitoring.pgbackrest_backup_ages() reads it.

Every pgbackrest run has a timeout and runs as the server's account when the harness is root.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from soberharness.errors import HarnessError
from soberharness.targets.lifecycle import preexec_as
from soberharness.targets.postgres import SUPERUSER, server_account

STANZA = "sobertube"
TIMEOUT_S = 120.0


class BackupStanza:
    def __init__(self, root: Path, program: Path) -> None:
        self.root = root
        self.program = program
        self.config = root / "pgbackrest.conf"

    def settings(self) -> dict[str, str]:
        """The server settings that archive WAL into the repository and name the config."""
        return {
            "archive_mode": "on",
            "archive_command": f"{self.program} --config={self.config} --stanza={STANZA} "
                               "archive-push %p",
            "sober.pgbackrest_config": str(self.config),
        }

    def _own(self, path: Path) -> None:
        account = server_account()
        if account is not None:
            os.chown(path, account.pw_uid, account.pw_gid)

    def configure(self, pgdata: Path, port: int, sockets: Path) -> None:
        """The config file and the repository's folders (owned by the server's account)."""
        if server_account() is not None:  # it must traverse down to the folder
            for parent in self.root.parents:
                mode = parent.stat().st_mode
                if parent != Path("/") and not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
        for sub in ("", "repo", "log", "lock", "spool"):
            path = self.root / sub if sub else self.root
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o700)
            self._own(path)
        self.config.write_text("\n".join([
            "[global]", f"repo1-path={self.root / 'repo'}", f"log-path={self.root / 'log'}",
            f"lock-path={self.root / 'lock'}", f"spool-path={self.root / 'spool'}",
            "log-level-console=warn", "start-fast=y", "process-max=1", "archive-timeout=30",
            "compress-type=lz4", "", f"[{STANZA}]", f"pg1-path={pgdata}", f"pg1-port={port}",
            f"pg1-socket-path={sockets}", f"pg1-user={SUPERUSER}", ""]))
        os.chmod(self.config, 0o600)
        self._own(self.config)

    def run(self, *args: str) -> str:
        argv = [str(self.program), f"--config={self.config}", f"--stanza={STANZA}", *args]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S,
                                  preexec_fn=preexec_as(server_account(), signal.SIGTERM),
                                  cwd=self.root, check=False)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"pgbackrest {args[-1]}: no answer in {TIMEOUT_S:.0f} s") from None
        if done.returncode != 0:
            tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise HarnessError(f"pgbackrest {args[-1]} failed ({done.returncode}): {tail}")
        return done.stdout

    def create(self) -> None:
        self.run("stanza-create")

    def backup(self) -> float:
        """A full backup; returns when it completed (epoch seconds, as pgBackRest records)."""
        self.run("--type=full", "backup")
        return self.newest_stop()

    def info(self) -> dict[str, Any]:
        data = json.loads(self.run("--output=json", "info"))
        return data[0] if data else {}

    def newest_stop(self) -> float:
        backups = self.info().get("backup") or []
        if not backups:
            raise HarnessError(f"pgbackrest: stanza {STANZA} has no backup")
        return max(float(b["timestamp"]["stop"]) for b in backups)

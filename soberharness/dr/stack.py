"""The chaos stack grown for drills: its own temporary directory holding every server of the
drill (primary, standbys, restored copies), and a primary that can move (failover)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from soberharness.chaos.stack import ChaosStack
from soberharness.targets.lifecycle import register_cleanup
from soberharness.targets.postgres import PostgresServer
from soberharness.targets.workdirs import make_workdir, remove_workdir


class DrillStack(ChaosStack):
    """A ChaosStack (clean config + `settings`) whose `admin_dsn` follows `primary`.

    Extra servers are added with `adopt()`; `stop()` stops all of them and removes the drill's
    directory (also at exit and on SIGTERM, through the harness's cleanups)."""

    def __init__(self, name: str, settings: dict[str, str] | None = None, writers: int = 3,
                 config: str = "clean") -> None:
        # A workdir like every run's: its owner file lets the dead-run sweep remove it, and the
        # watchdog removes it when the process is killed (SIGKILL leaves no cleanup to run).
        self.root = make_workdir()
        self.root.chmod(0o711)  # the server account walks down to its directories
        register_cleanup(self._remove_root)
        super().__init__(config, writers=writers, workdir=self.root / "primary",
                         extra_settings=settings)
        self.drill = name
        self.primary: PostgresServer | None = None  # None: the stack's own server
        self.others: dict[str, PostgresServer] = {}
        self.label = config  # what the report calls the configuration ('clean' must lose nothing)

    @property
    def current(self) -> PostgresServer:
        return self.primary or self.pg

    @property
    def admin_dsn(self) -> str:
        return self.current.dsn(self.database)

    def adopt(self, name: str, server: PostgresServer) -> PostgresServer:
        self.others[name] = server
        return server

    def path(self, name: str) -> Path:
        return self.root / name

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        described.update(config=self.label, drill=self.drill, primary_port=self.current.port,
                         servers={name: s.port for name, s in self.others.items()})
        described["settings"] = {k: v for k, v in described["settings"].items()
                                 if k != "archive_command"}
        return described

    def stop(self) -> None:
        for server in self.others.values():
            with contextlib.suppress(Exception):
                server.stop()
        self.others.clear()
        super().stop()
        self._remove_root()

    def _remove_root(self) -> None:
        remove_workdir(self.root)

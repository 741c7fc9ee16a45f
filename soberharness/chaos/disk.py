"""A small disk inside the chaos stack's own directory, for a real disk-full fault.

A tmpfs of a few MB is mounted under the stack's work directory and becomes a tablespace; the
chaos database's posts table moves onto it. Filling the tmpfs with a filler file makes every
INSERT that needs a new page fail with "could not extend file ... No space left on device"
(SQLSTATE 53100) while the WAL, on the real disk, keeps working; deleting the filler heals it.
Mounting needs root; everything is unmounted when the stack stops.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import subprocess
from pathlib import Path

from soberharness.db import session as db_session
from soberharness.errors import HarnessError

TABLESPACE = "chaos_small_disk"
CHUNK = 256 * 1024


def missing_reason() -> str | None:
    """Why a small disk cannot be mounted here, or None when it can."""
    if os.geteuid() != 0:
        return "the disk-full fault mounts a tmpfs: it needs root"
    if not Path("/bin/mount").exists() and not Path("/usr/bin/mount").exists():
        return "the disk-full fault needs the mount program"
    return None


class SmallDisk:
    """A `size_mb` tmpfs at `root`, given to `owner` (the account PostgreSQL runs as)."""

    def __init__(self, root: Path, owner: pwd.struct_passwd | None, size_mb: int = 32) -> None:
        self.root = root
        self.owner = owner
        self.size_mb = size_mb
        self.mounted = False
        self.filler = root / "filler"

    @property
    def tablespace_dir(self) -> Path:
        return self.root / "tablespace"

    def mount(self) -> None:
        reason = missing_reason()
        if reason:
            raise HarnessError(reason)
        self.root.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0755", "tmpfs",
             str(self.root)],
            capture_output=True, text=True, timeout=10,
        )
        if result.returncode != 0:
            raise HarnessError(f"could not mount a tmpfs at {self.root}: {result.stderr.strip()}")
        self.mounted = True
        self.tablespace_dir.mkdir(mode=0o700)
        if self.owner is not None:
            os.chown(self.tablespace_dir, self.owner.pw_uid, self.owner.pw_gid)

    def move_table(self, dsn: str, table: str = "public.posts") -> None:
        """Create the tablespace (once per cluster) and move `table` of that database onto it."""
        with db_session.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_tablespace WHERE spcname = %s", (TABLESPACE,)
            ).fetchone()
            if not exists:
                conn.execute(
                    f"CREATE TABLESPACE {TABLESPACE} LOCATION '{self.tablespace_dir}'"
                )
            conn.execute(f"ALTER TABLE {table} SET TABLESPACE {TABLESPACE}")

    def fill(self) -> int:
        """Fill the disk with a filler file until it is full; returns the bytes written."""
        written = 0
        block = b"\0" * CHUNK
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                try:
                    count = os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
                if count == 0:
                    break
                written += count
        finally:
            os.close(fd)
        return written

    def free(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.filler.unlink()

    def unmount(self) -> None:
        """Unmount (lazily, so an open file cannot keep it). Call after PostgreSQL stopped."""
        if not self.mounted:
            return
        subprocess.run(["umount", "-l", str(self.root)], capture_output=True, timeout=10)
        self.mounted = False

"""The lost-region drill: backups that survive the loss of their first repository.

The primary archives WAL into two encrypted pgBackRest repositories (repo2 stands for another
region and has a key of its own); a full backup goes to each; ledger writers post; a restore
point T is recorded; more writes follow. Then region one is lost: the primary stops and the
first repository is deleted entirely. From a config file that knows only the second repository
(and its key), the drill restores to T's time into a cluster configured differently (another
port, another data path, other locale and time settings), starts it, and judges it: the ledger
cut at T, and the access matrix's outcome digest against the original's.

Whether a repository can restore alone is also judged from its contents: every WAL segment
from its newest backup's start to T's segment must be in its archive. The planted defect
removes WAL from the second repository's archive (as if archive-push had reached only the
first): the judgement names exactly the missing segments, and a real restore from it fails.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from soberharness.chaos.ledger import Ledger, LedgerWorkload
from soberharness.db import session as db_session
from soberharness.dr import matrix_digest
from soberharness.dr.backup import STANZA, BackupRepo
from soberharness.dr.cluster import in_recovery
from soberharness.dr.judge import CutResult, check_at_cut
from soberharness.dr.stack import DrillStack
from soberharness.dr.steps import Phases
from soberharness.dr.tools import Ran, give_to_server, run
from soberharness.errors import HarnessError
from soberharness.records.progress import Progress
from soberharness.targets.postgres import PostgresServer

RESTORE_POINT = "sobertube-region-T"
SEGMENTS_PER_ID = 0x100  # 16 MB segments: 256 per 4 GB log id
# How the restored cluster differs from the original beyond port and data path (a physical
# restore keeps the databases' collation; these are the server's own settings).
OTHER_REGION_SETTINGS = {
    "lc_messages": "C.utf8", "lc_monetary": "C.utf8", "lc_numeric": "C.utf8",
    "lc_time": "C.utf8", "timezone": "Pacific/Auckland", "datestyle": "SQL, DMY",
}
SHOWN = ("port", "data_directory", "lc_messages", "lc_monetary", "lc_numeric", "lc_time",
         "TimeZone", "DateStyle")


# -- pure judging --------------------------------------------------------------------------
def next_segment(name: str) -> str:
    """The WAL segment file after `name` (same timeline)."""
    tli, log_id, seg = int(name[:8], 16), int(name[8:16], 16), int(name[16:24], 16)
    seg += 1
    if seg == SEGMENTS_PER_ID:
        log_id, seg = log_id + 1, 0
    return f"{tli:08X}{log_id:08X}{seg:08X}"


def segments_between(first: str, last: str, limit: int = 100_000) -> list[str]:
    """Every segment from `first` to `last`, both included."""
    out = [first]
    while out[-1] != last:
        if len(out) > limit or out[-1][:8] != last[:8]:
            raise HarnessError(f"WAL segment {last} does not follow {first}")
        out.append(next_segment(out[-1]))
    return out


def missing_wal(archive_start: str, target_segment: str, archived: Iterable[str]) -> list[str]:
    """The segments a restore from this repository to the target would need but cannot get."""
    have = set(archived)
    return [s for s in segments_between(archive_start, target_segment) if s not in have]


def restore_alone_finding(repo_name: str, missing: Sequence[str]) -> str | None:
    if not missing:
        return None
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return (f"{repo_name} cannot restore alone to the target: its archive lacks WAL "
            f"segment(s) {shown} (needed from its backup's start to the target)")


# -- the repository's contents -------------------------------------------------------------
def archived_segments(repo_path: Path) -> list[str]:
    """WAL segment names in a repository's archive (names stay clear under encryption)."""
    archive = repo_path / "archive" / STANZA
    return sorted({p.name[:24] for p in archive.glob("*/*/*") if len(p.name) > 24
                   and p.name[:24].isalnum()})


def segment_files(repo_path: Path, segments: Iterable[str]) -> list[Path]:
    wanted = set(segments)
    return [p for p in (repo_path / "archive" / STANZA).glob("*/*/*") if p.name[:24] in wanted]


# -- the drill -----------------------------------------------------------------------------
@dataclasses.dataclass
class RegionResult:
    cut: CutResult
    cells: int
    digest_original: str
    digest_restored: str
    repo1_lost: bool
    restored_from: list[str]  # the repository paths the restore's config named
    settings_original: dict[str, str]
    settings_restored: dict[str, str]
    collation: dict[str, str]  # datcollate of the drill's database, original and restored
    repo2_cipher: str
    repo2_alone: str | None  # the clean second repository's finding (None: it can)
    planted: dict[str, Any]
    seconds: dict[str, float]
    steps: list[str]

    @property
    def digests_equal(self) -> bool:
        return self.digest_original == self.digest_restored

    def to_json(self) -> dict[str, Any]:
        return {
            "drill": "lost-region", "cut": self.cut.to_json(),
            "matrix": {"cells": self.cells, "digest_original": self.digest_original,
                       "digest_restored": self.digest_restored, "equal": self.digests_equal},
            "repo1_lost": self.repo1_lost, "restored_from": self.restored_from,
            "settings": {"original": self.settings_original,
                         "restored": self.settings_restored},
            "collation": self.collation, "repo2_cipher": self.repo2_cipher,
            "repo2_alone_finding": self.repo2_alone, "planted_missing_wal": self.planted,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()}, "steps": self.steps,
        }


def region_stack(writers: int = 3) -> tuple[DrillStack, BackupRepo]:
    """A drill stack archiving into two encrypted repositories (not started)."""
    stack = DrillStack("region", writers=writers)
    pg = stack.pg
    repo = BackupRepo(stack.path("backrest"), pg.data, pg.port, pg.sockets, second_repo=True)
    repo.write_config()
    stack.settings.update(repo.settings())
    pg.settings.update(repo.settings())
    return stack, repo


class _Backrest:
    """pgbackrest with one config file, each command kept for the report."""

    def __init__(self, program: str, config: Path, steps: list[str]) -> None:
        self.program, self.config, self.steps = program, config, steps

    def __call__(self, *args: str, check: bool = True, timeout: float = 300) -> Ran:
        argv = [self.program, f"--config={self.config}", f"--stanza={STANZA}", *args]
        self.steps.append(f"pgbackrest --config={self.config.name} " + " ".join(args))
        ran = run(argv, timeout=timeout)
        if check and not ran.ok:
            raise HarnessError(f"pgbackrest {' '.join(args)} failed: {ran.tail()}")
        return ran


def _settings(dsn: str) -> dict[str, str]:
    with db_session.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        return {name: str(conn.execute(f"SHOW {name}").fetchone()[0]) for name in SHOWN}


def _collation(dsn: str) -> str:
    with db_session.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute("SELECT datcollate FROM pg_database "
                           "WHERE datname = current_database()").fetchone()
    return str(row[0])


def _new_server(stack: DrillStack, name: str) -> PostgresServer:
    root = stack.path(name) / "srv" / "pgsql"
    server = PostgresServer(root, settings={**stack.settings, "archive_mode": "off",
                                            **OTHER_REGION_SETTINGS})
    for path in (stack.path(name), root.parent, root, server.sockets, server.data):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        give_to_server(path)
    return server


def restore_from_second(stack: DrillStack, repo: BackupRepo, name: str, target_time: str,
                        steps: list[str], wait: float = 60.0) -> tuple[PostgresServer, str]:
    """Restore from the second repository alone into a new, differently configured cluster
    and start it; (server, '' when it came out of recovery, else why not)."""
    server = _new_server(stack, name)
    config = repo.write_second_region_config(stack.path(name) / "pgbackrest.conf", server.data,
                                             server.port, server.sockets)
    backrest = _Backrest(repo.program, config, steps)
    backrest("--type=time", f"--target={target_time}", "--target-action=promote", "restore")
    stack.adopt(name, server)
    try:
        server.start(timeout=120)
    except HarnessError as exc:
        return server, f"the restored server did not start: {exc}"
    deadline = time.monotonic() + wait
    while True:
        try:
            if not in_recovery(server):
                return server, ""
        except psycopg.Error:
            if not server.alive:
                return server, f"the restored server stopped: {server.log_tail(4)}"
        if time.monotonic() > deadline:
            return server, f"still in recovery after {wait:.0f}s: {server.log_tail()}"
        time.sleep(0.05)


REGION_PHASES = (
    "stanza and check", "writes and a backup to each repository", "archiving to both",
    "matrix digest of the original", "region one lost", "restore from the second repository",
    "judging the restored copy", "planted missing WAL",
)


def run_region_drill(stack: DrillStack, repo: BackupRepo, seconds: float = 1.0,
                     progress: Progress | None = None) -> RegionResult:
    """The drill on a started stack from `region_stack()`; `progress` is told each of
    REGION_PHASES as it begins."""
    assert repo.repo2 is not None
    phase = Phases(REGION_PHASES, progress)
    phase.begin("stanza and check")
    steps: list[str] = []
    took: dict[str, float] = {}
    backrest = _Backrest(repo.program, repo.config, steps)
    began = time.monotonic()
    backrest("stanza-create")
    backrest("check")
    took["stanza_and_check"] = time.monotonic() - began
    ledger = Ledger()
    workload = LedgerWorkload(stack.admin_dsn, stack.authors, clients=3, ledger=ledger,
                              pause=0.01)
    phase.begin("writes and a backup to each repository")
    workload.start()
    try:
        time.sleep(seconds)
        began = time.monotonic()
        backrest("--repo=1", "--type=full", "backup")
        backrest("--repo=2", "--type=full", "backup")
        took["backups"] = time.monotonic() - began
        time.sleep(seconds)
        t_before = time.time()
        with db_session.connect(stack.admin_dsn, autocommit=True, connect_timeout=10) as conn:
            _lsn, target_time, segment = conn.execute(
                "SELECT p, clock_timestamp()::text, pg_walfile_name(p) "
                "FROM pg_create_restore_point(%s) p", (RESTORE_POINT,)).fetchone()
        t_after = time.time()
        time.sleep(seconds)
    finally:
        workload.stop()
    phase.begin("archiving to both")
    began = time.monotonic()
    backrest("check")  # archives the WAL up to now into both repositories
    took["archive_check"] = time.monotonic() - began
    phase.begin("matrix digest of the original")
    began = time.monotonic()
    cells, digest_original = matrix_digest.of(stack.admin_dsn, stack.matrix)
    took["matrix_original"] = time.monotonic() - began
    settings_original = _settings(stack.admin_dsn)
    collation = {"original": _collation(stack.admin_dsn)}

    # Region one is lost: its server and its repository, entirely.
    phase.begin("region one lost")
    stack.pg.stop()
    shutil.rmtree(repo.repo)
    repo1_lost = not repo.repo.exists()

    phase.begin("restore from the second repository")
    began = time.monotonic()
    restored, why = restore_from_second(stack, repo, "region2", target_time, steps)
    took["restore_and_start"] = time.monotonic() - began
    if why:
        raise HarnessError(f"restore from the second repository alone failed: {why}")
    phase.begin("judging the restored copy")
    dsn = restored.dsn(stack.database)
    cut = check_at_cut(dsn, ledger, stack.authors, t_before, t_after)
    began = time.monotonic()
    _, digest_restored = matrix_digest.of(dsn, stack.matrix)
    took["matrix_restored"] = time.monotonic() - began
    settings_restored = _settings(dsn)
    collation["restored"] = _collation(dsn)
    region_config = stack.path("region2") / "pgbackrest.conf"
    info = _Backrest(repo.program, region_config, steps)("--output=json", "info")
    backup = _newest_backup(info.stdout)
    archive_start = str(backup["archive"]["start"])
    clean = restore_alone_finding("repo2", missing_wal(archive_start, segment,
                                                       archived_segments(repo.repo2)))
    restored.stop()
    phase.begin("planted missing WAL")
    began = time.monotonic()
    planted = plant_missing_wal(stack, repo, archive_start, segment, target_time, steps)
    took["planted"] = time.monotonic() - began
    phase.finish()
    return RegionResult(
        cut=cut, cells=cells, digest_original=digest_original, digest_restored=digest_restored,
        repo1_lost=repo1_lost, restored_from=_repo_paths(region_config),
        settings_original=settings_original, settings_restored=settings_restored,
        collation=collation, repo2_cipher=str(_stanza(info.stdout).get("cipher")),
        repo2_alone=clean, planted=planted, seconds=took, steps=steps)


def plant_missing_wal(stack: DrillStack, repo: BackupRepo, archive_start: str, segment: str,
                      target_time: str, steps: list[str]) -> dict[str, Any]:
    """Planted: the second repository's archive loses the WAL after its backup (as if
    archive-push had reached only the first). The judgement must name exactly the removed
    segments, and a restore from it must fail to reach the target."""
    assert repo.repo2 is not None
    needed = segments_between(archive_start, segment)
    removed = needed[len(needed) // 2:] if len(needed) > 1 else needed
    for path in segment_files(repo.repo2, removed):
        path.unlink()
    finding = restore_alone_finding("repo2", missing_wal(archive_start, segment,
                                                         archived_segments(repo.repo2)))
    missing = missing_wal(archive_start, segment, archived_segments(repo.repo2))
    try:
        _, why = restore_from_second(stack, repo, "region2-planted", target_time, steps,
                                     wait=30.0)
    except HarnessError as exc:
        why = str(exc)
    return {"removed": removed, "missing": missing, "finding": finding,
            "restore_failed": bool(why), "restore_outcome": why[-300:] or "restored"}


def _stanza(info_json: str) -> dict[str, Any]:
    data = json.loads(info_json)
    if not data:
        raise HarnessError("pgbackrest info on the second repository shows no stanza")
    return dict(data[0])


def _newest_backup(info_json: str) -> dict[str, Any]:
    backups = _stanza(info_json).get("backup") or []
    if not backups:
        raise HarnessError("the second repository holds no backup")
    return dict(backups[-1])


def _repo_paths(config: Path) -> list[str]:
    return [line.split("=", 1)[1] for line in config.read_text().splitlines()
            if line.startswith("repo") and "-path=" in line]

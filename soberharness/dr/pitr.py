"""The backup and point-in-time-restore drill.

WAL is archived into an encrypted pgBackRest repository while ledger writers post; a full
backup is taken under load; a restore point T is recorded (named, and its time); more writes
follow; the repository is checked and verified; it is restored into a new data directory to
T's time and started. The ledger, cut at T, must find every write acknowledged before T and
none begun after it; the access matrix must give the same verdicts (same outcome digest) on
the restored server as on the original. A byte flipped in a backup file must then make
`pgbackrest verify` fail.

The steps are RUNBOOK (docs/runbooks/restore-to-a-time.md holds the same commands).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from soberharness.chaos.ledger import Ledger, LedgerWorkload
from soberharness.db import session as db_session
from soberharness.dr import matrix_digest
from soberharness.dr.backup import STANZA, BackupRepo, plant_corruption
from soberharness.dr.cluster import in_recovery
from soberharness.dr.judge import CutResult, check_at_cut
from soberharness.dr.stack import DrillStack
from soberharness.dr.steps import Step, StepLog
from soberharness.dr.tools import give_to_server, run
from soberharness.errors import HarnessError
from soberharness.records.progress import Progress
from soberharness.targets.migrations import REPO
from soberharness.targets.postgres import PostgresServer

RUNBOOK_PATH = REPO / "docs" / "runbooks" / "restore-to-a-time.md"
_BR = "pgbackrest --config={config} --stanza={stanza}"
RUNBOOK: list[Step] = [
    Step("Create the stanza", f"{_BR} stanza-create"),
    Step("Check that WAL archiving works", f"{_BR} check"),
    Step("Take a full backup", f"{_BR} --type=full backup"),
    Step("Record a restore point",
         "psql -X \"{primary_dsn}\" -At -c "
         "\"SELECT pg_create_restore_point('{restore_point}'), clock_timestamp()\""),
    Step("Archive the WAL up to now", f"{_BR} check"),
    Step("List the backups", f"{_BR} info"),
    Step("Verify the repository", f"{_BR} --output=text --verbose verify"),
    Step("Restore to the time into a new data directory",
         f"{_BR} --pg1-path={{restore_data}} --type=time \"--target={{target_time}}\" "
         "--target-action=promote restore"),
    Step("Start the restored server", "postgres -D {restore_data} -p {restore_port}"),
    Step("Confirm the restored server is out of recovery",
         "psql -X \"{restore_dsn}\" -At -c \"SELECT pg_is_in_recovery()\""),
]
STEP = {s.key: s for s in RUNBOOK}
RESTORE_POINT = "sobertube-drill-T"


@dataclasses.dataclass
class PitrTimings:
    before: float = 1.0  # writes before the backup starts
    between: float = 1.0  # writes between the backup and T
    after: float = 1.0  # writes after T
    clients: int = 3
    pause: float = 0.01  # each client's pause between writes (less WAL: a quicker drill)


@dataclasses.dataclass
class PitrResult:
    cut: CutResult
    digest_original: str
    digest_restored: str
    cells: int
    backup_seconds: float
    backup_bytes: int  # the database's size as backed up
    backup_repo_bytes: int  # what the backup takes in the repository (compressed, encrypted)
    repo_bytes: int  # the whole repository, WAL archive included
    restore_seconds: float  # the restore command alone
    rto_seconds: float  # restore started -> restored server out of recovery and answering
    target_time: str
    restore_point_lsn: str
    repo_cipher: str  # as `pgbackrest info` reports the repository
    retention_full: int
    verify_clean: bool
    verify_output: str
    corruption: dict[str, Any] | None
    planted_rls: dict[str, Any]  # RLS disabled on the restored copy: the digest must differ
    steps: list[dict[str, object]]
    ledger: Ledger

    @property
    def digests_equal(self) -> bool:
        return self.digest_original == self.digest_restored

    @property
    def corruption_detected(self) -> bool:
        return bool(self.corruption and self.corruption["detected"])

    def figures(self) -> dict[str, Any]:
        return {
            "rpo_seconds": round(self.cut.rpo_seconds, 3),
            "rto_seconds": round(self.rto_seconds, 3),
            "restore_seconds": round(self.restore_seconds, 3),
            "backup_seconds": round(self.backup_seconds, 3),
            "backup_bytes": self.backup_bytes,
            "backup_repo_bytes": self.backup_repo_bytes,
            "repo_bytes": self.repo_bytes,
            "lost_acknowledged": len(self.cut.check.lost),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "drill": "pitr",
            "ok": self.cut.ok and self.digests_equal and self.verify_clean
            and self.corruption_detected and bool(self.planted_rls["detected"]),
            "figures": self.figures(),
            "cut": self.cut.to_json(),
            "matrix": {"cells": self.cells, "digest_original": self.digest_original,
                       "digest_restored": self.digest_restored,
                       "equal": self.digests_equal},
            "target_time": self.target_time,
            "restore_point": {"name": RESTORE_POINT, "lsn": self.restore_point_lsn},
            "repository": {"cipher": self.repo_cipher, "retention_full": self.retention_full},
            "verify_clean": self.verify_clean,
            "verify_output": self.verify_output,
            "planted_corruption": self.corruption,
            "planted_rls_defect": self.planted_rls,
            "steps": self.steps,
        }

    def one_line(self) -> str:
        f = self.figures()
        return (f"pitr: backup {f['backup_seconds']:.2f}s {f['backup_bytes'] // 1024} KiB "
                f"({f['backup_repo_bytes'] // 1024} KiB in repo), RTO {f['rto_seconds']:.2f}s, "
                f"RPO {f['rpo_seconds']:.3f}s; digest "
                f"{'equal' if self.digests_equal else 'DIFFERENT'}; {self.cut.one_line()}")


def restore_and_start(stack: DrillStack, log: StepLog,
                      name: str) -> tuple[PostgresServer, float, float]:
    """Runbook steps 8-10 into a new directory: (server, restore seconds, RTO seconds)."""
    root = stack.path(name)
    restored = PostgresServer(root, settings={**stack.settings, "archive_mode": "off"})
    for path in (root, restored.sockets, restored.data):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        give_to_server(path)
    log.values.update(restore_data=restored.data, restore_port=restored.port,
                      restore_dsn=restored.dsn())
    began = time.monotonic()
    restore = log.run(STEP["restore-to-the-time-into-a-new-data-directory"], timeout=300)
    stack.adopt(name, restored)
    log.perform(STEP["start-the-restored-server"], lambda: restored.start(timeout=120))
    deadline = time.monotonic() + 60
    while True:
        answer = log.run(STEP["confirm-the-restored-server-is-out-of-recovery"], check=False)
        if answer.ok and answer.stdout.strip() == "f" and not in_recovery(restored):
            break
        if time.monotonic() > deadline:
            raise HarnessError(f"restored server still in recovery after 60s: {answer.tail()}")
        time.sleep(0.05)
    return restored, restore.seconds, time.monotonic() - began


def verify(repo: BackupRepo, log: StepLog | None = None) -> tuple[bool, str]:
    """`pgbackrest verify`: clean when it exits 0 and its text report says `status: ok` with
    no error (it exits 0 on an invalid file and says so only in the report)."""
    if log is not None:
        ran = log.run(STEP["verify-the-repository"], check=False, timeout=300)
    else:
        ran = run([repo.program, f"--config={repo.config}", f"--stanza={STANZA}",
                   "--output=text", "--verbose", "--log-level-console=info", "verify"],
                  timeout=300)
    output = (ran.stdout + ran.stderr).strip()
    return verify_clean(ran.returncode, output), output


def verify_clean(returncode: int, output: str) -> bool:
    return returncode == 0 and "status: ok" in output and "status: error" not in output


def run_pitr(stack: DrillStack, repo: BackupRepo, timings: PitrTimings | None = None,
             plant_corrupt_file: bool = True, progress: Progress | None = None) -> PitrResult:
    """The drill on a started stack whose primary archives into `repo`; `progress` is told
    each runbook step as it begins."""
    t = timings or PitrTimings()
    log = StepLog({**repo.values(), "primary_dsn": stack.pg.dsn(stack.database),
                   "restore_point": RESTORE_POINT}, progress, len(RUNBOOK))
    log.run(STEP["create-the-stanza"])
    log.run(STEP["check-that-wal-archiving-works"])
    ledger = Ledger()
    workload = LedgerWorkload(stack.admin_dsn, stack.authors, clients=t.clients, ledger=ledger,
                              pause=t.pause)
    workload.start()
    try:
        time.sleep(t.before)
        backup = log.run(STEP["take-a-full-backup"], timeout=600)
        time.sleep(t.between)
        t_before = time.time()
        point = log.run(STEP["record-a-restore-point"])
        t_after = time.time()
        time.sleep(t.after)
    finally:
        workload.stop()
    lsn, _, target_time = point.stdout.strip().partition("|")
    log.values["target_time"] = target_time
    log.run(STEP["archive-the-wal-up-to-now"])
    log.run(STEP["list-the-backups"])
    clean, verify_output = verify(repo, log)
    restored, restore_seconds, rto = restore_and_start(stack, log, "restored")
    log.tell("judging the cut at the restore point")
    cut = check_at_cut(restored.dsn(stack.database), ledger, stack.authors, t_before, t_after)
    log.tell("matrix digests of the original and the restored copy")
    cells, digest_original = matrix_digest.of(stack.admin_dsn, stack.matrix)
    _, digest_restored = matrix_digest.of(restored.dsn(stack.database), stack.matrix)
    log.tell("planted defects: RLS lost, a corrupt backup file")
    planted_rls = plant_rls_defect(stack, restored)
    info = repo.info()
    last = (info.get("backup") or [{}])[-1]
    if "label" not in last:
        raise HarnessError("the pgBackRest repository holds no backup after the drill's backup")
    corruption = plant_and_verify(repo, last["label"]) if plant_corrupt_file else None
    log.finish()
    return PitrResult(
        cut=cut, digest_original=digest_original, digest_restored=digest_restored, cells=cells,
        backup_seconds=backup.seconds, backup_bytes=int(last["info"]["size"]),
        backup_repo_bytes=int(last["info"]["repository"]["size"]),
        repo_bytes=repo.repo_bytes(), restore_seconds=restore_seconds, rto_seconds=rto,
        target_time=target_time, restore_point_lsn=lsn, repo_cipher=str(info.get("cipher")),
        retention_full=repo.retention_full, verify_clean=clean,
        verify_output=_tail(verify_output, 12),
        corruption=corruption, planted_rls=planted_rls,
        steps=[r.to_json() for r in log.records], ledger=ledger,
    )


PLANTED_RLS = "ALTER TABLE public.posts DISABLE ROW LEVEL SECURITY"


def plant_rls_defect(stack: DrillStack, restored: PostgresServer) -> dict[str, Any]:
    """Planted: a restore that lost the posts table's RLS. A sample of the matrix on the
    restored copy, before and after the defect, must give different digests, and only in
    cells of the posts table."""
    dsn = restored.dsn(stack.database)
    before = matrix_digest.sample(dsn, stack.matrix)
    with db_session.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(PLANTED_RLS)
    try:
        after = matrix_digest.sample(dsn, stack.matrix)
    finally:
        with db_session.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute("ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY")
    changed = matrix_digest.differing(before, after)
    return {"statement": PLANTED_RLS, "cells": len(after),
            "detected": matrix_digest.digest(before) != matrix_digest.digest(after),
            "cells_differing": len(changed), "tables": sorted({r.cell.table for r in changed}),
            "first": [r.cell.label() for r in changed[:5]]}


def plant_and_verify(repo: BackupRepo, label: str) -> dict[str, Any]:
    """Flip bytes in the backup's largest file; `pgbackrest verify` must now fail."""
    files = repo.backup_files(label)
    if not files:
        raise HarnessError(f"backup {label} has no files to corrupt")
    victim = max(files, key=lambda p: p.stat().st_size)
    offset = plant_corruption(victim)
    ok, output = verify(repo)
    relative = victim.relative_to(repo.repo / "backup" / STANZA / label)
    named = str(relative).removesuffix(".lz4") in output or victim.name in output
    return {"file": str(relative), "offset": offset, "detected": not ok,
            "names_file": named, "verify_output": _tail(output)}


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.splitlines()[-lines:])


def pitr_stack(writers: int = 3) -> tuple[DrillStack, BackupRepo]:
    """A drill stack whose primary archives WAL into a new encrypted repository (not started)."""
    stack = DrillStack("pitr", writers=writers)
    pg = stack.pg
    repo = BackupRepo(stack.path("backrest"), pg.data, pg.port, pg.sockets)
    repo.write_config()
    stack.settings.update(repo.settings())
    pg.settings.update(repo.settings())
    return stack, repo



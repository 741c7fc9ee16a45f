"""The ledger judged at a cut: after a restore to a point T, a write acknowledged before T must
be there and a write begun after T must not.

T is known as a window [t_before, t_after] on the client's clock (the restore point's statement
was sent at t_before and answered at t_after; the server stamps it in between). A write whose
acknowledgement came before t_before committed before T; a write begun after t_after committed,
if at all, after T; a write in flight across the window may fall on either side.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

from soberharness.chaos.checker import CheckResult, classify, quiesce, read_bodies
from soberharness.chaos.ledger import Ledger, Outcome, Write
from soberharness.db import session as db_session


@dataclasses.dataclass
class CutResult:
    check: CheckResult  # LOST = acknowledged before T missing, FAILED_PRESENT = after T present
    before: int  # writes acknowledged before T
    after: int  # writes begun after T (whatever their outcome)
    across: int  # in flight across T: either side is right
    rpo_seconds: float  # T minus the oldest acknowledged-before-T write missing (0: none)
    newest_kept_gap_seconds: float | None  # T minus the newest acknowledged write restored

    @property
    def ok(self) -> bool:
        return self.check.ok

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok, "acknowledged_before_target": self.before,
            "begun_after_target": self.after, "across_target": self.across,
            "rpo_seconds": round(self.rpo_seconds, 3),
            "newest_kept_gap_seconds": None if self.newest_kept_gap_seconds is None
            else round(self.newest_kept_gap_seconds, 3),
            "ledger": self.check.to_json(),
        }

    def one_line(self) -> str:
        return (f"cut at T: {self.before} acknowledged before, {self.after} begun after, "
                f"{self.across} across; RPO {self.rpo_seconds:.3f}s; {self.check.one_line()}")


def at_cut(write: Write, t_before: float, t_after: float) -> Write:
    """The write as the restore must see it: acknowledged-before-T stays acknowledged (must be
    present), begun-after-T becomes failed (must be absent), anything across T unknown."""
    if write.started > t_after:
        return dataclasses.replace(write, outcome=Outcome.FAILED)
    if write.outcome is Outcome.ACKNOWLEDGED and write.finished < t_before:
        return write
    if write.outcome is Outcome.FAILED:
        return write
    return dataclasses.replace(write, outcome=Outcome.UNKNOWN)


def classify_at_cut(writes: Sequence[Write], bodies: Sequence[str], t_before: float,
                    t_after: float) -> CutResult:
    """A pure function of the ledger, the bodies read back from the restore, and T."""
    cut = [at_cut(w, t_before, t_after) for w in writes]
    result = classify(cut, bodies)
    present = set(bodies)
    before = [w for w, c in zip(writes, cut, strict=True)
              if c.outcome is Outcome.ACKNOWLEDGED]
    lost = [w for w in before if w.body not in present]
    kept = [w.finished for w in writes
            if w.outcome is Outcome.ACKNOWLEDGED and w.body in present and w.finished < t_before]
    return CutResult(
        check=result,
        before=len(before),
        after=sum(1 for w in writes if w.started > t_after),
        across=sum(1 for c in cut if c.outcome is Outcome.UNKNOWN),
        rpo_seconds=max((t_before - w.finished for w in lost), default=0.0),
        newest_kept_gap_seconds=(t_before - max(kept)) if kept else None,
    )


def check_at_cut(dsn: str, ledger: Ledger, authors: Sequence[uuid.UUID], t_before: float,
                 t_after: float) -> CutResult:
    with db_session.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        quiesce(conn)
        bodies = read_bodies(conn, authors)
    return classify_at_cut(ledger.writes, bodies, t_before, t_after)

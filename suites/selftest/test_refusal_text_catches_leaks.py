"""What a refusal tells the writer can fail: a trigger that names the blocker in the error a
blocked user's follow gets is reported at exactly the cells where that user may not see the
blocker; the clean stack's refusals name no one (suites/security)."""

from __future__ import annotations

import pytest

from soberharness.access.model import AccessModel
from soberharness.checker.refusal_text import RefusalLeak, refusal_leaks
from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.records.results import Cell, CellResult, Op
from soberharness.runner.matrix import run_matrix
from soberharness.world.entities import Privacy
from soberharness.world.matrix_world import build_matrix_world

# A follow across a block is refused, and the refusal says who blocked the writer.
BLOCKER_NAMED = """
create function private.follow_block_leak() returns trigger
  language plpgsql security definer set search_path = '' as $fn$
declare h text;
begin
  select p.handle into h from public.blocks b join public.profiles p on p.id = b.blocker_id
   where b.blocker_id = new.followee_id and b.blocked_id = new.follower_id;
  if h is not null then
    raise exception using errcode = '42501', message = 'you were blocked by ' || h;
  end if;
  return new;
end $fn$;
create trigger follow_block_leak before insert on public.follows
  for each row execute function private.follow_block_leak();
"""


@pytest.mark.needs("postgres")
def test_a_refusal_naming_the_blocker_is_reported_at_exactly_its_cells(
    scratch_database: str,
) -> None:
    mw = build_matrix_world()
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, mw.world)
        conn.execute(BLOCKER_NAMED.encode())
    run = run_matrix(scratch_database, mw, workers=2, tables=["follows"])
    model = AccessModel(mw.world)
    # the follow-the-owner cells of users the owner blocked who may not see the owner
    blocked_by = {(b.blocker, b.blocked) for b in mw.world.blocks}
    want = set()
    for r in run.results:
        viewer = mw.viewer(r.cell.actor, Privacy(r.cell.privacy))
        owner = mw.owners[Privacy(r.cell.privacy)]
        if (r.cell.op is Op.INSERT and r.cell.case.startswith("follow owner")
                and (owner.id, viewer.user_id) in blocked_by
                and not model.sees_profile(viewer, owner.id)):
            want.add(RefusalLeak(r.cell.label(), owner.handle))
    assert want, "some blocked users may not see the owner who blocked them"
    assert set(refusal_leaks(mw, run.results)) == want


def test_a_refusal_naming_only_what_the_writer_sees_is_no_finding() -> None:
    """The stranger sees the public owner; the user the owner blocked does not."""
    mw = build_matrix_world()
    owner = mw.owners[Privacy.PUBLIC]
    stranger = Cell("likes", Op.INSERT, "stranger", "public", "x")
    blocked = Cell("likes", Op.INSERT, "blocked", "public", "x")
    seen = CellResult(stranger, False, False, f"duplicate like of {owner.handle}")
    allowed = CellResult(blocked, True, True, f"row of {owner.handle}")  # not a refusal
    part_of_a_word = CellResult(blocked, False, False, f"row of {owner.handle}x")
    hidden = CellResult(blocked, False, False, f"row of {owner.id}")
    assert refusal_leaks(mw, [seen, allowed, part_of_a_word]) == []
    assert refusal_leaks(mw, [hidden]) == [RefusalLeak(blocked.label(), owner.handle)]

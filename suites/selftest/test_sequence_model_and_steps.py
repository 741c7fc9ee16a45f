"""The pieces of the state machine that need no database: the steps text format, the
transition model (what a committed write leaves behind), and the spec's transition rules
judged on rows before and after a step."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.access.transitions import DELETION_REQUESTS, SequenceState, TransitionModel
from soberharness.checker.sequence import model_rows, transition_findings
from soberharness.records.results import Op
from soberharness.records.steps import Step, StepSyntaxError, format_steps
from soberharness.records.writes import Write
from soberharness.workload.steps import Names, initial_world, load_steps, parse_steps, writes_of
from soberharness.world.entities import DeletionRequest, Follow, FollowStatus, Privacy

NAMES = Names("t")


def _state(*lines: str) -> SequenceState:
    """The model's state after the given steps (each must be allowed)."""
    state = initial_world(NAMES)
    for step in parse_steps("\n".join(lines)):
        viewer, writes = writes_of(step, state, NAMES)
        for write in writes:
            model = TransitionModel(state)
            assert model.allowed(viewer, write), step.line()
            state = model.after(write)
    return state


def _allowed(state: SequenceState, line: str) -> list[bool]:
    viewer, writes = writes_of(Step.parse(line), state, NAMES)
    return [TransitionModel(state).allowed(viewer, w) for w in writes]


PROFILES = ("u1 create_profile privacy=public", "u2 create_profile privacy=private")


def test_steps_text_round_trips_with_comments_and_blank_lines() -> None:
    text = ("u1 create_profile privacy=public\n\n# a comment\n"
            "u2 follow follower=u2 followee=u1 status=accepted  # why\n")
    steps = parse_steps(text)
    assert [s.verb for s in steps] == ["create_profile", "follow"]
    assert parse_steps(format_steps(steps)) == steps
    assert steps[1].arg("followee") == "u1"


@pytest.mark.parametrize(("line", "says"), [
    ("u9 post id=p1 author=u9", "unknown actor 'u9'"),
    ("u1 dance", "unknown verb 'dance'"),
    ("u1 follow follower=u1", "follow needs followee, status"),
    ("u1 post id", "'id' is not key=value"),
])
def test_bad_step_lines_are_one_clear_line(line: str, says: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.steps"
    path.write_text(f"u1 create_profile privacy=public\n{line}\n")
    with pytest.raises(StepSyntaxError) as raised:
        load_steps(path)
    message = str(raised.value)
    assert says in message and "line 2" in message and "\n" not in message


def test_missing_steps_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StepSyntaxError, match="cannot read steps file"):
        load_steps(tmp_path / "none.steps")


def test_a_block_removes_follows_both_ways_and_an_unblock_brings_none_back() -> None:
    state = _state(*PROFILES, "u2 follow follower=u2 followee=u1 status=accepted",
                   "u1 follow follower=u1 followee=u2 status=pending")
    assert len(state.world.follows) == 2
    blocked = _state(*PROFILES, "u2 follow follower=u2 followee=u1 status=accepted",
                     "u1 follow follower=u1 followee=u2 status=pending",
                     "u2 block blocker=u2 blocked=u1")
    assert blocked.world.follows == []
    unblocked = _state(*PROFILES, "u2 follow follower=u2 followee=u1 status=accepted",
                       "u2 block blocker=u2 blocked=u1", "u2 unblock blocker=u2 blocked=u1")
    assert unblocked.world.follows == [] and unblocked.world.blocks == []


def test_a_follow_to_a_private_user_starts_pending_and_only_the_followee_accepts() -> None:
    state = _state(*PROFILES)
    assert _allowed(state, "u1 follow follower=u1 followee=u2 status=accepted") == [False]
    state = _state(*PROFILES, "u1 follow follower=u1 followee=u2 status=pending")
    assert _allowed(state, "u1 accept follower=u1 followee=u2") == [False]
    assert _allowed(state, "m1 accept follower=u1 followee=u2") == [False]
    assert _allowed(state, "u2 accept follower=u1 followee=u2") == [True]


def test_a_pending_follow_survives_a_privacy_change_and_reads_follow_the_new_level() -> None:
    state = _state(*PROFILES, "u3 create_profile privacy=public",
                   "u1 follow follower=u1 followee=u2 status=pending", "u2 post id=p1 author=u2")
    u1, u3 = NAMES.viewer("u1"), NAMES.viewer("u3")
    assert NAMES.id("p1") not in TransitionModel(state).visible(u1)["posts"]
    public = _state(*PROFILES, "u3 create_profile privacy=public",
                    "u1 follow follower=u1 followee=u2 status=pending", "u2 post id=p1 author=u2",
                    "u2 set_privacy user=u2 privacy=public")
    assert public.world.follows == [Follow(NAMES.id("u1"), NAMES.id("u2"), FollowStatus.PENDING)]
    for viewer in (u1, u3, NAMES.viewer("anon")):
        assert NAMES.id("p1") in TransitionModel(public).visible(viewer)["posts"]


def test_deleting_a_post_takes_its_comments_and_likes() -> None:
    state = _state(*PROFILES, "u1 post id=p1 author=u1", "u1 post id=p2 author=u1",
                   "u1 comment id=c1 author=u1 parent=p1", "u1 like id=l1 user=u1 parent=p1",
                   "u1 like id=l2 user=u1 parent=p2", "u1 delete target=p1")
    assert set(state.world.likes) == {NAMES.id("l2")} and not state.world.comments


def test_account_deletion_is_asked_once_as_oneself_with_aal2() -> None:
    state = _state(*PROFILES)
    assert _allowed(state, "u1 request_deletion user=u1 aal=aal1") == [False]
    assert _allowed(state, "u2 request_deletion user=u1 aal=aal2") == [False]
    assert _allowed(state, "u3 request_deletion user=u3 aal=aal2") == [False]  # no profile
    state = _state(*PROFILES, "u1 request_deletion user=u1 aal=aal2")
    assert _allowed(state, "u1 request_deletion user=u1 aal=aal2") == [False]
    seen = {v: TransitionModel(state).visible(NAMES.viewer(v))[DELETION_REQUESTS]
            for v in ("u1", "u2", "m1", "anon")}
    assert seen == {"u1": {NAMES.id("u1")}, "u2": set(), "m1": set(), "anon": set()}
    assert model_rows(state)[DELETION_REQUESTS] == {DeletionRequest(NAMES.id("u1"))}


def test_upload_video_is_the_object_then_the_row() -> None:
    _, writes = writes_of(Step.parse("u1 upload_video id=v1 owner=u1 object=o1"),
                               _state(*PROFILES), NAMES)
    assert [(w.op, type(w.target).__name__) for w in writes] == [
        (Op.INSERT, "StoredObject"), (Op.INSERT, "Video")]
    assert writes[0].target.name.startswith(f"{NAMES.id('u1')}/")  # type: ignore[union-attr]


def test_transition_rules_judge_the_database_rows_alone() -> None:
    before = model_rows(_state(*PROFILES, "u1 follow follower=u1 followee=u2 status=pending"))
    kept = model_rows(_state(*PROFILES, "u1 follow follower=u1 followee=u2 status=pending"))
    block = Step.parse("u2 block blocker=u2 blocked=u1")
    found = transition_findings(block, NAMES, before, kept, committed=True)
    assert [f.text.split(": ")[0] for f in found] == [
        "a block removes follows both ways (W:Follows)"]
    assert transition_findings(block, NAMES, before, kept, committed=False) == []
    empty = model_rows(_state(*PROFILES))
    unblock = Step.parse("u2 unblock blocker=u2 blocked=u1")
    assert transition_findings(unblock, NAMES, empty, kept, committed=True)[0].text.startswith(
        "nothing comes back after an unblock")
    accepted = model_rows(_state(*PROFILES, "u1 follow follower=u1 followee=u2 status=pending",
                                 "u2 accept follower=u1 followee=u2"))
    by_follower = Step.parse("u1 accept follower=u1 followee=u2")
    assert transition_findings(by_follower, NAMES, before, accepted, committed=True)[0].text \
        .startswith("only the followee accepts")
    follow = Step.parse("u1 follow follower=u1 followee=u2 status=accepted")
    wrong = {**empty, "follows": {Follow(NAMES.id("u1"), NAMES.id("u2"), FollowStatus.ACCEPTED)}}
    assert transition_findings(follow, NAMES, empty, wrong, committed=True)[0].text.startswith(
        "a follow to a private user starts pending")
    assert Privacy.PRIVATE is next(u.privacy for u in empty["profiles"]  # type: ignore[union-attr]
                                   if u.id == NAMES.id("u2"))  # type: ignore[union-attr]


def test_every_write_of_a_step_is_a_write() -> None:
    state = _state(*PROFILES, "u1 post id=p1 author=u1", "u1 upload id=o1 bucket=avatars "
                   "folder=u1 file=a.png")
    for line in ("m1 hide target=p1", "m1 unhide target=p1", "u1 delete target=o1",
                 "u1 move target=o1 bucket=videos folder=u2 file=b.mp4",
                 "anon post id=p2 author=u1"):
        _, writes = writes_of(Step.parse(line), state, NAMES)
        assert writes and all(isinstance(w, Write) for w in writes)

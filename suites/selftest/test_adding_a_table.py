"""What adding a table costs (README, "Adding a table"): the World keeps the rows of a table
declared only in soberharness/world/tables.py (no World field), the transition model commits
them, and a verb declared once in soberharness/workload/steps.py's VERBS is parsed, drawn and
turned into writes from that one entry. A verb entry whose parts disagree is reported."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soberharness.access.model import AccessModel
from soberharness.access.transitions import SequenceState, TransitionModel
from soberharness.paths import REPO
from soberharness.records.results import Op
from soberharness.records.steps import Step, StepSyntaxError
from soberharness.records.writes import Write
from soberharness.workload import steps
from soberharness.workload.step_strategies import StepDrawer
from soberharness.world import entities, tables
from soberharness.world.entities import World

NAMES = steps.Names("t")


@dataclasses.dataclass(frozen=True)
class Note:
    """A toy table's entity, as a new table declares it beside its entry in world/tables.py."""

    id: uuid.UUID
    author: uuid.UUID


NOTES = tables.Table("notes", Note, "public", "notes", ("id",), lambda n: n.id,
                     lambda n: {"id": n.id, "author_id": n.author})


@pytest.fixture
def notes_table(monkeypatch: pytest.MonkeyPatch) -> tables.Table:
    """The toy table's key, as world/tables.py gives every entry's to the World."""
    monkeypatch.setitem(entities.ROW_KEYS, Note, NOTES.key)
    return NOTES


def test_a_world_holds_a_table_that_has_no_field(notes_table: tables.Table) -> None:
    world = World()
    note = Note(uuid.uuid4(), uuid.uuid4())
    world.add(note)
    assert list(notes_table.rows(world)) == [note] == [e for e in world.entities()
                                                      if isinstance(e, Note)]
    copy = world.copy()
    copy.remove(note)
    assert list(notes_table.rows(copy)) == [] and list(notes_table.rows(world)) == [note]
    assert AccessModel(world).exists(note) and not AccessModel(copy).exists(note)  # type: ignore[arg-type]


def test_the_transition_model_commits_rows_of_such_a_table(notes_table: tables.Table) -> None:
    note = Note(uuid.uuid4(), uuid.uuid4())
    state = SequenceState(World())
    inserted = TransitionModel(state).after(Write(Op.INSERT, note))  # type: ignore[arg-type]
    assert inserted.world.rows_of(Note) == {note.id: note} and not state.world.rows_of(Note)
    deleted = TransitionModel(inserted).after(Write(Op.DELETE, note))  # type: ignore[arg-type]
    assert deleted.world.rows_of(Note) == {}


def test_an_entity_of_no_table_is_refused() -> None:
    with pytest.raises(TypeError, match="not an entity"):
        World().add(Note(uuid.uuid4(), uuid.uuid4()))  # type: ignore[arg-type]


def _state() -> SequenceState:
    """A state where every draw's `when` holds: profiles, a pending follow, a block, hidden
    and shown content, a comment, a like, an object."""
    state = steps.initial_world(NAMES)
    for line in ("u1 create_profile privacy=public", "u2 create_profile privacy=private",
                 "u3 create_profile privacy=public", "u1 follow follower=u1 followee=u2 "
                 "status=pending", "u3 block blocker=u3 blocked=u1", "u1 post id=p1 author=u1",
                 "u2 post id=p2 author=u2", "m1 hide target=p2", "u1 comment id=c1 author=u1 "
                 "parent=p1", "u1 like id=l1 user=u1 parent=p1",
                 "u1 upload id=o1 bucket=avatars folder=u1 file=a.png"):
        viewer, writes = steps.writes_of(steps.parse_step(line), state, NAMES)
        for write in writes:
            assert TransitionModel(state).allowed(viewer, write), line
            state = TransitionModel(state).after(write)
    return state


STATE = _state()


def verb_problems(verb: steps.Verb, data: st.DataObject) -> list[str]:
    """Where one registry entry's parts disagree: a draw that yields another verb, a line its
    own shape refuses, writes that fail."""
    problems = []
    for draw in verb.draws:
        if not draw.when(STATE.world):
            problems.append(f"{draw.label}: cannot be drawn in a state with every kind of row")
            continue
        step = data.draw(draw.strategy(StepDrawer(NAMES), STATE), label=draw.label)
        if step.verb != verb.name:
            problems.append(f"{draw.label}: drew {step.verb!r}")
        try:
            Step.parse(step.line(), {verb.name: verb.args})
            verb.writes(steps.Act(step, dict(step.args), NAMES.viewer(step.actor),
                                  NAMES.id("u1"), STATE.world, NAMES))
        except (StepSyntaxError, KeyError) as exc:
            problems.append(f"{draw.label}: {exc}")
    return problems


@settings(max_examples=25, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_verb_entry_agrees_with_itself(data: st.DataObject) -> None:
    assert [p for v in steps.VERBS for p in verb_problems(v, data)] == []


@settings(max_examples=5, deadline=None, database=None, derandomize=True)
@given(data=st.data())
def test_a_verb_whose_draw_leaves_out_an_argument_is_reported(data: st.DataObject) -> None:
    post = steps.BY_NAME["post"]
    broken = dataclasses.replace(post, draws=(steps.Draw(
        "post", 1, lambda d, s: st.just(Step.of("u1", "post", id="p9"))),))
    assert verb_problems(broken, data) == ["post: 'u1 post id=p9': post needs author"]


def test_the_registries_list_every_verb_and_draw_once() -> None:
    names = [v.name for v in steps.VERBS]
    labels = [d.label for d in steps.DRAWS]
    assert len(names) == len(set(names)) and len(labels) == len(set(labels))
    assert set(steps.SHAPES) == set(names) and all(d.weight > 0 for d in steps.DRAWS)


ADDING_A_TABLE = ("world/tables.py", "access/model.py", "workload/matrix_cases.py",
                  "workload/steps.py")

# Files a table used to touch (an entity's World field, a verb's arguments, its draw, its
# weight): now read from the four above.
NOT_TOUCHED = ("world/entities.py", "records/steps.py", "workload/step_strategies.py",
               "runner/state_machine.py")


def test_the_readme_names_the_four_files_of_a_table() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("- **A table**", 1)[1].split("- **A service**", 1)[0]
    named = [f for f in ADDING_A_TABLE if f"`{f}`" in section]
    assert named == list(ADDING_A_TABLE) and "4 files" in section
    assert not [f for f in NOT_TOUCHED if f"`{f}`" in section]
    assert all((REPO / "soberharness" / f).is_file() for f in ADDING_A_TABLE)

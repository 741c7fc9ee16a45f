"""The named worlds of scenarios/: every viewer reads what the access model allows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from soberharness.access.model import AccessModel
from soberharness.db import session as db_session
from soberharness.runner.visibility import compare_world, observed_in
from soberharness.world.scenario_file import Expectation, Scenario, load_scenarios

SCENARIOS = load_scenarios(Path(__file__).resolve().parents[2] / "scenarios")


@pytest.fixture(scope="module")
def world_connection(module_database: str) -> Iterator[psycopg.Connection]:
    with db_session.connect(module_database) as conn:
        yield conn


@pytest.mark.target_independent
def test_there_are_scenarios() -> None:
    assert SCENARIOS, "scenarios/ holds no *.toml"


@pytest.mark.needs("postgres")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_reads_match_the_model(
    world_connection: psycopg.Connection, scenario: Scenario
) -> None:
    diffs = compare_world(world_connection, scenario.world)
    assert not diffs, f"{scenario.description}\n" + "\n".join(d.describe() for d in diffs)


EXPECTATIONS = [(s, e) for s in SCENARIOS for e in s.expectations]


@pytest.mark.needs("postgres")
@pytest.mark.parametrize(
    ("scenario", "expectation"),
    EXPECTATIONS,
    ids=[f"{s.name}-{e.who}-{e.table}-{i}" for i, (s, e) in enumerate(EXPECTATIONS)],
)
def test_story_holds_in_model_and_database(
    world_connection: psycopg.Connection, scenario: Scenario, expectation: Expectation
) -> None:
    """What the scenario's own text says a viewer reads, in both implementations."""
    model_rows = AccessModel(scenario.world).visible(expectation.viewer)[expectation.table]
    database_rows = observed_in(world_connection, scenario.world, expectation.viewer)[
        expectation.table
    ]
    for name, rows in (("model", model_rows), ("database", database_rows)):
        assert expectation.sees <= rows, f"{name}: {expectation.who} misses rows it should see"
        assert not expectation.misses & rows, f"{name}: {expectation.who} sees hidden rows"

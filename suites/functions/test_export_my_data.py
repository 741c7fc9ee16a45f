"""export-my-data as every matrix actor with every token variant, against the access model:
an export with one row too many or too few names the row (D28: aal2 user sessions only)."""

from __future__ import annotations

import pytest

from soberharness.checker.functions import judge_export
from soberharness.clients.functions import FunctionsClient
from soberharness.workload.functions_calls import export_calls
from soberharness.world.matrix_world import ACTORS, MatrixWorld

pytestmark = pytest.mark.needs("functions", "postgres")


def test_every_actor_exports_what_the_rules_say(
    functions: FunctionsClient, fn_world: MatrixWorld, jwt_secret: str, names: dict[str, str]
) -> None:
    calls = export_calls(functions, fn_world, jwt_secret)
    assert {c.actor for c in calls} == set(ACTORS)
    exported = [c for c in calls if c.status == 200]
    assert exported and len(exported) < len(calls), "both verdicts are met"
    findings = [f for c in calls for f in judge_export(c, fn_world.world, names)]
    assert not findings, "\n".join(f.line() for f in findings)

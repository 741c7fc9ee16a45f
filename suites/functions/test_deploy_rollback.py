"""Deployment by version (seed 4.1.3): the functions folder's manifest matches its files, a
release whose files do not match is refused, and the rollback drill: deploy the current release
(green), a release with a planted defect in export-my-data (red, naming function, actor and row),
roll back (green again, the old versions served). The releases are served by Deno from copies,
against a throwaway database (local target)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from soberharness.db import session as db_session
from soberharness.db.seed import write_world
from soberharness.errors import HarnessError
from soberharness.runner.functions_rollback import rollback_drill
from soberharness.targets.services.edge_functions import STACK_FUNCTIONS, db_url_of
from soberharness.targets.services.functions_release import (
    FunctionsDeployment,
    load_manifest,
    release_with_change,
    verify,
)
from soberharness.world.matrix_world import MatrixWorld, build_matrix_world

pytestmark = pytest.mark.needs("functions", "postgres")

SECRET = "rollback-drill-secret-0123456789-abcdefghijklmnop"
# export-my-data 1.0.1: exports comments on the caller's posts too (a blocked user's among them).
DEFECT = ("export-my-data",
          "from public.comments where author_id = ${me} order by",
          "from public.comments where author_id = ${me} or post_id in "
          "(select id from public.posts where author_id = ${me}) order by")


def test_the_functions_manifest_matches_the_files() -> None:
    assert verify(STACK_FUNCTIONS) == []
    assert {"main", "_shared", "export-my-data", "notify"} <= set(load_manifest(STACK_FUNCTIONS))


@pytest.fixture
def deployment(tmp_path: Path, scratch_database: str
               ) -> Iterator[tuple[FunctionsDeployment, MatrixWorld]]:
    mw = build_matrix_world("rollback")
    with db_session.connect(scratch_database, autocommit=True) as conn:
        write_world(conn, mw.world)
    deployed = FunctionsDeployment(tmp_path / "deploy", db_url_of(scratch_database), SECRET)
    try:
        yield deployed, mw
    finally:
        deployed.stop()


def test_a_release_whose_files_do_not_match_its_manifest_is_refused(
    tmp_path: Path, deployment: tuple[FunctionsDeployment, MatrixWorld]
) -> None:
    release = release_with_change(tmp_path / "r2", *DEFECT, version="1.0.1")
    (release / "notify" / "index.ts").write_text("// changed after release\n", "utf-8")
    with pytest.raises(HarnessError, match=r"notify: its files do not match version 1\.0\.0"):
        deployment[0].deploy(release)
    assert deployment[0].process is None


def test_rollback_drill_goes_red_on_the_planted_release_and_green_after_rolling_back(
    tmp_path: Path, deployment: tuple[FunctionsDeployment, MatrixWorld]
) -> None:
    deployed, mw = deployment
    bad = release_with_change(tmp_path / "1.0.1-planted", *DEFECT, version="1.0.1")
    steps = rollback_drill(deployed, STACK_FUNCTIONS, bad, mw, SECRET)
    assert [s.action for s in steps] == ["deploy functions", "deploy 1.0.1-planted", "rollback"]
    assert [s.versions["export-my-data"] for s in steps] == ["1.0.0", "1.0.1", "1.0.0"]
    assert [s.green for s in steps] == [True, False, True], [s.findings[:3] for s in steps]
    # The planted release exports others' comments on the owner's posts: exactly those the
    # owner may read (RLS still applies) and only those, per privacy, named by their rows.
    assert sorted(steps[1].findings) == sorted(
        f"export-my-data per actor and token: export-my-data as self (privacy={p}, "
        f"token=forged aal2): row comments/{row}: exported although the rules keep it out"
        for p in ("public", "community", "private")
        for row in (f"follower_comments/{p}", f"follower_comments_on/{p}/hidden_posts"))

"""The declaration file: a warning fails unless declared with a reason, an error always fails,
a stale entry is reported, a bad file is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.db import session as db_session
from soberharness.errors import HarnessError
from soberharness.lints.catalog import run_lints
from soberharness.lints.declarations import (
    default_path,
    failing,
    load_declarations,
)
from soberharness.records.results import UNMODELLED_RULE
from soberharness.targets.migrations import STACK_MIGRATIONS

ADD_ONE = "public.add_one(i integer)"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "declarations.toml"
    path.write_text(text)
    return path


@pytest.mark.needs("postgres")
def test_planted_warning_fails_until_declared_and_an_error_cannot_be(
    scratch_database: str, tmp_path: Path
) -> None:
    with db_session.connect(scratch_database, autocommit=True) as conn:
        conn.execute(b"create function public.add_one(i integer) returns integer "
                     b"language sql immutable as $$ select i + 1 $$")
        conn.execute(b"alter table public.posts disable row level security")
        findings = run_lints(conn)
    nothing = load_declarations(tmp_path / "absent.toml")
    assert ("function_search_path_mutable", ADD_ONE) in {
        (f.rule, f.object) for f in failing(nothing.judge(findings))}
    declared = load_declarations(_write(tmp_path, f"""
[[warning]]
rule = "function_search_path_mutable"
object = "{ADD_ONE}"
reason = "test: immutable arithmetic"

[[warning]]
rule = "rls_disabled_in_public"
object = "public.posts"
reason = "errors cannot be declared"
"""))
    judged = declared.judge(findings)
    still = {(f.rule, f.object) for f in failing(judged)}
    assert ("function_search_path_mutable", ADD_ONE) not in still
    assert ("rls_disabled_in_public", "public.posts") in still
    accepted = [f for f in judged if f.object == ADD_ONE]
    assert [f.declared for f in accepted] == ["test: immutable arithmetic"]
    stale = declared.stale(judged, ["function_search_path_mutable", "rls_disabled_in_public"])
    assert [(d.rule, d.object) for d in stale] == [("rls_disabled_in_public", "public.posts")]


def test_an_entry_that_matches_nothing_is_stale(tmp_path: Path) -> None:
    declared = load_declarations(_write(tmp_path, """
[[exposed]]
object = "public.gone()"
reason = "was here once"
"""))
    stale = declared.stale([], [UNMODELLED_RULE])
    assert [(d.rule, d.object) for d in stale] == [(UNMODELLED_RULE, "public.gone()")]
    assert declared.stale([], ["some_other_rule"]) == []  # its rule did not run


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[warning]]\nrule = 'x'\nobject = 'y'\n", "needs exactly the keys"),
        ("[[exposed]]\nobject = 'y'\nreason = '  '\n", "must be non-empty text"),
        ("[[excuse]]\nobject = 'y'\nreason = 'r'\n", "unknown section"),
        ("[[exposed]\n", "not a readable TOML file"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(HarnessError, match=message) as info:
        load_declarations(_write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_the_stack_file_is_found_beside_its_migrations_and_loads() -> None:
    path = default_path(STACK_MIGRATIONS)
    assert path == STACK_MIGRATIONS.parent / "declarations.toml"
    entries = load_declarations(path, required=True).entries
    assert entries and all(e.reason for e in entries)

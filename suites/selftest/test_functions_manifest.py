"""The functions' release manifest: each mismatch between manifest and files is named by its
part (a changed file, a part not in the manifest, a part gone), a new part needs a version, and
the refresh command answers bad input in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from soberharness.errors import Exit, HarnessError
from soberharness.targets.services.edge_functions import STACK_FUNCTIONS
from soberharness.targets.services.functions_release import (
    load_manifest,
    main,
    verify,
    write_manifest,
)


@pytest.fixture
def release(tmp_path: Path) -> Path:
    folder = tmp_path / "release"
    shutil.copytree(STACK_FUNCTIONS, folder)
    assert verify(folder) == []
    return folder


def test_a_changed_shared_file_names_the_shared_part(release: Path) -> None:
    with (release / "_shared" / "http.ts").open("a") as out:
        out.write("\n// a change\n")
    assert verify(release) == ["_shared: its files do not match version 1.1.0's hash"]


def test_a_new_function_and_a_removed_one_are_both_named(release: Path) -> None:
    (release / "greet").mkdir()
    (release / "greet" / "index.ts").write_text("export const methods = ['GET'];\n")
    shutil.rmtree(release / "milestones")
    assert verify(release) == ["greet: in the folder, not in the manifest",
                               "milestones: in the manifest (version 1.0.0), not in the folder"]
    with pytest.raises(HarnessError, match="greet: no version given"):
        write_manifest(release, {})
    write_manifest(release, {"greet": "0.1.0"})
    assert verify(release) == []
    assert load_manifest(release)["greet"].version == "0.1.0"
    assert "milestones" not in load_manifest(release)


def test_a_bad_manifest_is_one_line(release: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (release / "manifest.json").write_text(json.dumps({"parts": {"main": {"version": "1"}}}))
    assert main([str(release)]) == Exit.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "not a functions manifest" in err
    with pytest.raises(SystemExit) as usage:
        main([])
    assert usage.value.code == Exit.BAD_INPUT
    assert main([str(release.parent)]) == Exit.BAD_INPUT
    assert "holds no manifest.json" in capsys.readouterr().err


def test_set_gives_a_part_a_new_version(release: Path) -> None:
    assert main([str(release), "--set", "milestones=9.9.9"]) == Exit.OK
    parts = json.loads((release / "manifest.json").read_text())["parts"]
    assert parts["milestones"]["version"] == "9.9.9"
    stack = json.loads((STACK_FUNCTIONS / "manifest.json").read_text())["parts"]
    assert parts["main"] == stack["main"]  # the others keep their versions

"""docs/access-rules.md, the rules this project implements, is the shared spec word for word
(a clone has no ../shared; where the spec is present beside the repository, the copy must
equal it)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COPY = REPO / "docs" / "access-rules.md"
SOURCE = REPO.parent / "shared" / "spec" / "access-rules.md"


def test_the_repository_carries_the_access_rules() -> None:
    text = COPY.read_text()
    assert text.startswith("#") and len(text.splitlines()) > 20


def test_the_copy_equals_the_shared_spec() -> None:
    if not SOURCE.exists():
        pytest.skip(f"the shared spec {SOURCE} is not present beside this repository: "
                    "nothing to compare docs/access-rules.md with")
    assert COPY.read_text() == SOURCE.read_text(), (
        f"docs/access-rules.md differs from {SOURCE}: copy it again")

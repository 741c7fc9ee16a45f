"""Names the Storage API refuses to write, whatever the role (access.storage_keys): seen on a
real Storage API v1.70.6, where the matrix's "encoded slash" name was answered
`400 InvalidKey: Invalid key: <id>%2Favatar.png` for the service role, and imitated by the
protocol double so that CI sees the same refusal."""

from __future__ import annotations

import uuid

import pytest

from soberharness.access.storage_keys import accepts_object_key, written_name
from soberharness.records.results import Op
from soberharness.workload.matrix_cases import OBJECT_NAME_SHAPES
from soberharness.world.entities import StoredObject

ME, OTHER = "9cd37997-4b21-5e86-ac3c-07a8e0e71ebf", "0f5d1a4e-2b8c-4d1e-9a7b-3c6e5f4a2b1d"


@pytest.mark.parametrize(("name", "written"), [
    (f"{ME}/avatar.png", True),
    (f"{ME}/a/b/c/avatar.png", True),
    (f"{ME}/a/", True),
    (f"{ME}/it's (1) & more=ok;+,?@$!*:.png", True),
    (f"{ME}%2Favatar.png", False),
    (f"{ME}/caf\u00e9.png", False),
    (f"{ME}/a#b.png", False),
    (f"{ME}/a[1].png", False),
    ("", False),
])
def test_the_storage_api_writes_only_its_key_characters(name: str, written: bool) -> None:
    assert accepts_object_key(name) is written


def test_of_the_matrix_name_shapes_only_the_encoded_slash_is_refused() -> None:
    refused = [shape for shape, pattern in OBJECT_NAME_SHAPES.items()
               if not accepts_object_key(pattern.format(me=ME, ME=ME.upper(), other=OTHER,
                                                         file="avatar.png"))]
    assert refused == ["an encoded slash"]


def test_the_written_name_is_an_inserts_or_an_updates_new_one() -> None:
    old = StoredObject(uuid.uuid4(), "avatars", f"{ME}/a.png", uuid.UUID(ME))
    new = StoredObject(old.id, "avatars", f"{ME}%2Fb.png", uuid.UUID(ME))
    assert written_name(Op.INSERT, new, None) == new.name
    assert written_name(Op.UPDATE, old, new) == new.name
    assert written_name(Op.SELECT, old, None) is None
    assert written_name(Op.DELETE, old, None) is None

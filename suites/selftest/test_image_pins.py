"""The stack pins no image at a version known to be unfit, and says why each pin is what it is.

The known-unfit releases are declared in soberharness/config/known_bad_pins.py; a planted
re-pin of the Storage API to v1.44.2 (the pin that let any signed-in user empty any bucket)
must be named by both the compose check and the Kubernetes check.
"""

from __future__ import annotations

import copy
import re

import pytest

from soberharness.config.composecheck import check_compose_structure, load_compose
from soberharness.config.envcheck import COMPOSE_FILE
from soberharness.config.k8scheck import OVERLAYS, render, rule_problems, workloads
from soberharness.config.known_bad_pins import KNOWN_BAD, known_bad, split_image, version_key

OLD_STORAGE = "supabase/storage-api:v1.44.2"
STACK_README = COMPOSE_FILE.parents[1] / "README.md"


def _compose_images() -> dict[str, str]:
    return {name: str(service["image"]) for name, service in load_compose()["services"].items()}


def test_no_pinned_image_is_known_unfit() -> None:
    assert {name: [e.fixed_in for e in known_bad(image)]
            for name, image in _compose_images().items() if known_bad(image)} == {}


def test_a_storage_pin_with_the_bucket_emptying_hole_is_named_by_composecheck() -> None:
    compose = load_compose()
    before = check_compose_structure(compose)
    planted = copy.deepcopy(compose)
    planted["services"]["storage"]["image"] = OLD_STORAGE
    new = [p for p in check_compose_structure(planted) if p not in before]
    assert new and all(p.startswith(f"service storage: image '{OLD_STORAGE}' is known unfit ")
                       for p in new), new
    assert any("empties any bucket" in p and "before v1.48.12" in p for p in new), new
    assert sorted(re.findall(r"before (v[\d.]+)", " ".join(new))) == sorted(
        ["v1.48.12", "v1.58.9", "v1.60.7", "v1.70.1"])


def test_a_storage_pin_with_the_bucket_emptying_hole_is_named_by_k8scheck() -> None:
    docs = render(OVERLAYS / "aws")
    before = rule_problems(docs)
    planted = copy.deepcopy(docs)
    workloads(planted)["storage"]["spec"]["template"]["spec"]["containers"][0]["image"] = \
        OLD_STORAGE
    new = [p for p in rule_problems(planted) if p not in before]
    assert len(new) == 4 and all(
        p.startswith(f"Deployment/storage container storage: image '{OLD_STORAGE}' is known "
                     "unfit ") for p in new), new


@pytest.mark.parametrize(("image", "fixed_ins"), [
    ("supabase/storage-api:v1.48.11", ["v1.48.12", "v1.58.9", "v1.60.7", "v1.70.1"]),
    ("supabase/storage-api:v1.48.12", ["v1.58.9", "v1.60.7", "v1.70.1"]),
    ("supabase/storage-api:v1.70.0", ["v1.70.1"]),
    ("supabase/storage-api:v1.70.1", []),
    ("postgrest/postgrest:v14.5", ["v14.6", "v14.17"]),
    ("postgrest/postgrest:v14.17", []),
    ("postgrest/postgrest:v14.9", ["v14.17"]),  # 14.9 < 14.17: numbers, not text
    ("minio/minio:RELEASE.2025-04-22T22-12-26Z", []),
    ("redis", []),
])
def test_versions_compare_as_numbers(image: str, fixed_ins: list[str]) -> None:
    assert [e.fixed_in for e in known_bad(image)] == fixed_ins


def test_each_known_unfit_entry_is_well_formed_and_names_a_pinned_image() -> None:
    pinned = {split_image(image)[0] for image in _compose_images().values()}
    for entry in KNOWN_BAD:
        assert version_key(entry.fixed_in) is not None, entry
        assert entry.image in pinned, f"{entry.image}: not an image the stack uses"
        assert len(entry.reason) > 20, entry


def test_the_readme_says_why_each_image_is_pinned() -> None:
    text = STACK_README.read_text()
    section = text.split("## Image pins", 1)[1]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([^`]+)`", cells[0]):
                rows[name] = (cells[1], cells[2])
    for service, image in _compose_images().items():
        name, tag = split_image(image)
        assert name in rows, f"{service}: {name} has no row in stack/README.md's Image pins"
        assert f"`{tag}`" in rows[name][0], f"{name}: README says {rows[name][0]}, pinned {tag}"
        assert rows[name][1], name


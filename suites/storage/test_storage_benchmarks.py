"""Storage benchmarks (seed 6.3.5): upload and download latency percentiles and throughput per
object size, and transform latency, each beside a reference measured in the same run; the
figures go into the run report's notes ("storage benchmarks"). 1 KiB and 1 MiB by default,
plus 50 MiB and more rounds with SOBERHARNESS_STORAGE_DEEP=1. Nothing here is a timed assert:
what can fail is the data (every download must return the bytes uploaded)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from soberharness.bench.storage_throughput import (
    rounds_for,
    sizes,
    transfer,
    transform_latency,
)
from soberharness.clients.storage import Transform
from soberharness.report.run_report import RunReport
from soberharness.workload.storage_target import StorageWorld, deep
from soberharness.world.entities import Privacy, Viewer


@pytest.mark.needs("storage", "postgres")
def test_throughput_per_object_size(storage_world: StorageWorld, run_report: RunReport,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    owner = storage_world.mw.owners[Privacy.PUBLIC]
    client = storage_world.callers.of(Viewer.of(owner))
    figures = []
    for size in sizes(deep()):
        storage_world.state.created.add(("videos", f"{owner.id}/bench-{size}.bin"))
        figures.append(transfer(client, "videos", str(owner.id), size, rounds_for(size, deep())))
    run_report.notes["storage benchmarks"] = {
        "transfers": [f.summary() for f in figures], "deep": deep()}
    with capsys.disabled():
        print()
        for f in figures:
            print(f"[storage bench] {f.line()}")
    assert [f.size for f in figures] == list(sizes(deep()))
    assert all(f.intact for f in figures), [f.size for f in figures if not f.intact]


@pytest.mark.needs("storage", "image-transformation", "postgres")
def test_transform_latency(storage_world: StorageWorld, run_report: RunReport) -> None:
    owner = storage_world.mw.owners[Privacy.PUBLIC]
    client = storage_world.callers.of(Viewer.of(owner))
    image = Image.new("RGB", (1024, 768), (40, 120, 200))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    name = f"{owner.id}/bench-transform.jpg"
    storage_world.state.put("avatars", name, out.getvalue())
    rendered, plain = transform_latency(client, "avatars", name, 10 if not deep() else 50,
                                        Transform(width=200, height=200, resize="cover"))
    storage_world.state.drop("avatars", name)
    notes = run_report.notes.setdefault("storage benchmarks", {})
    notes["transform"] = {"render": rendered.summary(), "download": plain.summary(),
                          "x_download": round(rendered.p50 / plain.p50, 1)}
    assert len(rendered.samples_ms) == len(plain.samples_ms) > 0

"""Judging a move of object bytes (pure): the destination's rows, the source's objects and the
destination's objects, each by key, give one finding per difference.

Kinds, per key:
- `lost`: a row on the destination whose object the source has and the destination does not;
- `no object`: a row on the destination whose object neither side has;
- `no row`: an object on the destination that no row of the destination names;
- `truncated`: the destination's object is shorter than the source's;
- `size`: the destination's object is longer than the source's, or its row's size disagrees;
- `altered`: same size, different sha256.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class ObjectFacts:
    size: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    detail: str

    def line(self) -> str:
        return f"{self.kind}: {self.key}: {self.detail}"


def judge(rows: Mapping[str, int | None], source: Mapping[str, ObjectFacts],
          dest: Mapping[str, ObjectFacts]) -> list[Finding]:
    """`rows`: key -> the size its row records (None: none recorded), on the destination."""
    found: list[Finding] = []
    for key in sorted(rows):
        src, dst = source.get(key), dest.get(key)
        if dst is None:
            found.append(Finding("lost", key, f"on the source ({src.size} bytes), not on the "
                                 "destination") if src else
                         Finding("no object", key, "a row names it; neither side has it"))
            continue
        if src is not None and dst.size < src.size:
            found.append(Finding("truncated", key, f"{dst.size} of {src.size} bytes on the "
                                 "destination"))
        elif src is not None and dst.size != src.size:
            found.append(Finding("size", key, f"{dst.size} bytes on the destination, "
                                 f"{src.size} on the source"))
        elif src is not None and dst.sha256 != src.sha256:
            found.append(Finding("altered", key, f"same size ({dst.size} bytes), sha256 "
                                 f"{dst.sha256[:12]}… on the destination, {src.sha256[:12]}… "
                                 "on the source"))
        elif rows[key] is not None and rows[key] != dst.size:
            found.append(Finding("size", key, f"its row says {rows[key]} bytes, the object "
                                 f"has {dst.size}"))
    for key in sorted(set(dest) - set(rows)):
        found.append(Finding("no row", key, f"an object of {dest[key].size} bytes on the "
                             "destination that no row of storage.objects names"))
    return found

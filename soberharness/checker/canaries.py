"""Judging canaries: a marker a viewer reads but may not know is a leak, named by the marker's
source and where the viewer read it. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from soberharness.records.noninterference import CanaryLeak


def leaks(
    viewer: str,
    found: Iterable[tuple[str, str, str]],
    knowers: Mapping[str, frozenset[str]],
    sources: Mapping[str, str],
) -> list[CanaryLeak]:
    """The markers (relation, column, marker) `viewer` read that it may not know; a marker no
    canary planted is ignored (text that merely looks like one)."""
    out = {
        CanaryLeak(viewer, marker, sources[marker], relation, column)
        for relation, column, marker in found
        if marker in knowers and viewer not in knowers[marker]
    }
    return sorted(out, key=lambda leak: (leak.relation, leak.column, leak.marker))

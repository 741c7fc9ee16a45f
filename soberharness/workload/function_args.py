"""The fixed argument set on which the non-interference snapshot calls every exposed function a
viewer may execute (issue 20 item 1), derived from argument types and the matrix world.

Each SQL type the harness knows has a list of sample values, the first being the one an
argument holds while another varies: uuids are the world's users, posts and videos; texts the
empty string (matches everything where a function searches), the bucket ids, each owner's
storage folder and a word of the world's texts; integers a generous limit, then 0 and 1. An
argument's name refines its type: an integer named as an offset takes 0 first (a listing from
its beginning), a text named as a bucket the bucket ids (a listing of a bucket). A function is
called on the all-first tuple and on each tuple that varies one argument over its samples (one
at a time, so the calls grow with the arguments, not their product), at most MAX_CALLS tuples.
A function with an argument of a type not listed here is not called (see
docs/access-decisions.md, D35).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from soberharness.world.matrix_world import MatrixWorld

# SQL type name (as format_type writes it) -> the sample kind it takes.
TYPE_KINDS: dict[str, str] = {
    "uuid": "uuid",
    "text": "text", "character varying": "text", "name": "text", "citext": "text",
    "integer": "int", "bigint": "int", "smallint": "int", "numeric": "int",
    "boolean": "bool",
}

Samples = dict[str, tuple[str, ...]]  # sample kind -> literal texts, the first the default
# The calls per function (the snapshot runs them for every viewer after every change).
MAX_CALLS = 8


def argument_samples(mw: MatrixWorld) -> Samples:
    """The sample values of each kind, from the matrix world."""
    world = mw.world
    ids = [*world.users, *world.posts, *world.videos]
    folders = [f"{owner.id}/" for owner in mw.owners.values()]
    return {
        "uuid": tuple(str(i) for i in ids),
        "text": ("", "avatars", "videos", *folders, "one"),
        "int": ("100", "0", "1"),
        "offset": ("0", "1"),
        "bucket": ("avatars", "videos"),
        "bool": ("true", "false"),
    }


def _kind(type_name: str, arg_name: str) -> str | None:
    kind, name = TYPE_KINDS.get(type_name), arg_name.lower()
    if kind == "int" and "offset" in name:
        return "offset"
    return "bucket" if kind == "text" and "bucket" in name else kind


def argument_tuples(
    types: Sequence[str], samples: Samples, names: Sequence[str] = ()
) -> list[tuple[str, ...]]:
    """The argument tuples a function of these argument types (and names) is called on (none
    when a type has no samples): the all-first tuple, then each argument varied over its
    samples, at most MAX_CALLS."""
    kinds = [_kind(t, names[i] if i < len(names) else "") for i, t in enumerate(types)]
    if any(k is None or k not in samples for k in kinds):
        return []
    lists = [samples[k] for k in kinds if k is not None]
    base = tuple(values[0] for values in lists)
    return list(dict.fromkeys(_varied(base, lists)))[:MAX_CALLS]


def _varied(base: tuple[str, ...], lists: Sequence[Sequence[str]]) -> Iterator[tuple[str, ...]]:
    yield base
    for i, values in enumerate(lists):
        for value in values[1:]:
            yield (*base[:i], value, *base[i + 1:])

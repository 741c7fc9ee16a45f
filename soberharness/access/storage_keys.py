"""The object names the Storage API writes, whatever role asks: a refusal that comes before
row level security.

The Storage API checks each key it is asked to write (an upload's name, the destination of a
move or a copy) against S3's safe characters and the few it handles itself; a name with any
other character (`%`, `#`, `[`, non-ASCII, ...) or an empty one is answered `400 InvalidKey`
for every role, the service role too. The set is the same in every Storage API version the
harness knows (v1.44.2 to v1.70.6: `isValidKey`, src/storage/limits.ts). SQL writes any name as
given, so this holds for the Storage API's requests only.
"""

from __future__ import annotations

import string

from soberharness.records.results import Op
from soberharness.world.entities import StoredObject

WRITABLE_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_/!-.*'() &$@=;:+,?")


def accepts_object_key(name: str) -> bool:
    """Whether the Storage API writes an object of this name (else `400 InvalidKey`)."""
    return bool(name) and all(ch in WRITABLE_CHARACTERS for ch in name)


def written_name(op: Op, target: object, after: object | None) -> str | None:
    """The name a storage action writes: an insert's, an update's new one (a move or copy);
    None for a read or a delete, or a row that is no object."""
    row = target if op is Op.INSERT else after if op is Op.UPDATE else None
    return row.name if isinstance(row, StoredObject) else None

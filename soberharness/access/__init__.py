"""The independent access model: who may read and write what, from the rules alone."""

from soberharness.access.model import (
    TABLES,
    AccessModel,
    Key,
    Relation,
    changed_fields,
    initial_follow_status,
    key_of,
    table_of,
)

__all__ = [
    "TABLES",
    "AccessModel",
    "Key",
    "Relation",
    "changed_fields",
    "initial_follow_status",
    "key_of",
    "table_of",
]

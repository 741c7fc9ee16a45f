"""Moving object bytes between two S3-compatible stores, resumably, and reading back what each
side holds for the judge (soberharness.cloud_move.verdict).

The objects are those `storage.objects` rows name. Like the Storage API, one S3 bucket holds
every storage bucket, under `prefix/bucket_id/name` (`/version` appended when the row has one).

Resumable: an object the destination already holds with the source's size and the source's
ETag (kept in the copy's `x-amz-meta-source-etag`) is skipped, so a rerun after a kill copies
only what is not there yet. Each copy is read whole, checked against the source's size, and
written with its sha256 in `x-amz-meta-sha256`; the store's ETag for it must be its md5.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable

import psycopg

from soberharness.clients.s3 import S3Client, S3Store
from soberharness.cloud_move.verdict import ObjectFacts
from soberharness.errors import HarnessError


@dataclasses.dataclass(frozen=True)
class Location:
    """Where a deployment's objects are: a store, its bucket and the key prefix (tenant)."""

    store: S3Store
    bucket: str
    prefix: str = "stub"

    @classmethod
    def from_json(cls, text: str, var: str) -> Location:
        try:
            spec = json.loads(text)
            store = S3Store(spec["endpoint"], spec["access_key"], spec["secret_key"],
                            spec.get("region", "us-east-1"))
            return cls(store, spec["bucket"], spec.get("prefix", "stub"))
        except (ValueError, KeyError, TypeError) as exc:
            raise HarnessError(f"${var} is not a store spec (JSON with endpoint, access_key, "
                               f"secret_key, bucket[, prefix, region]): {type(exc).__name__} "
                               f"{exc if isinstance(exc, KeyError) else ''}".strip()) from None


@dataclasses.dataclass(frozen=True)
class ObjectRow:
    bucket_id: str
    name: str
    version: str | None
    size: int | None  # as the row's metadata records it

    def key(self, prefix: str) -> str:
        key = f"{prefix}/{self.bucket_id}/{self.name}"
        return f"{key}/{self.version}" if self.version else key


def object_rows(conn: psycopg.Connection) -> list[ObjectRow]:
    rows = conn.execute(
        "select bucket_id, name, version, (metadata->>'size')::bigint from storage.objects "
        "where name is not null order by bucket_id, name").fetchall()
    return [ObjectRow(str(b), str(n), v, None if s is None else int(s)) for b, n, v, s in rows]


@dataclasses.dataclass
class MoveReport:
    copied: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)  # already there
    missing_at_source: list[str] = dataclasses.field(default_factory=list)
    bytes_copied: int = 0


def move_objects(rows: Iterable[ObjectRow], src: Location, dst: Location,
                 on_copied: Callable[[str], None] | None = None) -> MoveReport:
    report = MoveReport()
    with S3Client(src.store) as source, S3Client(dst.store) as dest:
        for row in rows:
            key_src, key_dst = row.key(src.prefix), row.key(dst.prefix)
            head = source.head_object(src.bucket, key_src)
            if head is None:
                report.missing_at_source.append(key_src)
                continue
            there = dest.head_object(dst.bucket, key_dst)
            if (there is not None and there.size == head.size
                    and there.metadata.get("source-etag") == head.etag):
                report.skipped.append(key_dst)
                continue
            body = source.get_object(src.bucket, key_src)
            if body is None or len(body) != head.size:
                raise HarnessError(f"{key_src}: read {0 if body is None else len(body)} bytes "
                                   f"from the source, which says it has {head.size}")
            etag = dest.put_object(dst.bucket, key_dst, body, {
                "sha256": hashlib.sha256(body).hexdigest(), "source-etag": head.etag})
            if etag and etag != hashlib.md5(body, usedforsecurity=False).hexdigest():
                raise HarnessError(f"{key_dst}: the destination's ETag {etag} is not the "
                                   "md5 of the bytes sent")
            report.copied.append(key_dst)
            report.bytes_copied += len(body)
            if on_copied is not None:
                on_copied(key_dst)
    return report


def holdings(location: Location) -> dict[str, ObjectFacts]:
    """key (without the prefix) -> size and sha256 of every object under the prefix, read
    whole (the listing's size is not trusted alone)."""
    out = {}
    start = f"{location.prefix}/"
    with S3Client(location.store) as client:
        for key, _ in list(client.list_objects(location.bucket, start)):
            body = client.get_object(location.bucket, key)
            if body is not None:
                out[key[len(start):]] = ObjectFacts(len(body), hashlib.sha256(body).hexdigest())
    return out


def row_sizes(rows: Iterable[ObjectRow]) -> dict[str, int | None]:
    """key (without the prefix) -> the size the row records."""
    return {row.key("").lstrip("/"): row.size for row in rows}

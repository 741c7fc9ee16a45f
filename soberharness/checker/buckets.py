"""Bucket settings against the rules: which buckets exist, which may be public, and the size and
MIME limits where the stack sets them. The Storage API serves a public bucket's objects to anyone
(`/object/public/...`) without consulting RLS, so no object policy stops a bucket flipped public:
it is checked here, on the bucket rows themselves."""

from __future__ import annotations

import psycopg

from soberharness.access.model import bucket_problems, missing_buckets
from soberharness.records.results import LintFinding, Severity
from soberharness.world.entities import Bucket

RULE = "bucket_settings"


def read_buckets(conn: psycopg.Connection) -> list[Bucket]:
    with conn.cursor() as cur:
        cur.execute(
            b"select id, coalesce(public, false), file_size_limit, allowed_mime_types "
            b"from storage.buckets order by id"
        )
        return [
            Bucket(id_, public, limit, tuple(types) if types is not None else None)
            for id_, public, limit, types in cur.fetchall()
        ]


def bucket_findings(
    conn: psycopg.Connection, global_size_limit: int | None = None
) -> list[LintFinding]:
    """A finding per problem with the buckets (see access.model.bucket_problems)."""
    buckets = read_buckets(conn)
    findings = [
        LintFinding(RULE, Severity.ERROR, f"storage.buckets[{bucket.id}]", problem)
        for bucket in buckets
        for problem in bucket_problems(bucket, global_size_limit)
    ]
    findings += [
        LintFinding(RULE, Severity.ERROR, f"storage.buckets[{name}]",
                    f"bucket {name} named by the rules does not exist")
        for name in missing_buckets({b.id for b in buckets})
    ]
    return findings

"""The Storage API's own schema objects, per storage schema version, and how the harness treats
each one.

A real Storage API migrates the `storage` schema itself (supabase/storage, `migrations/tenant`)
and records every migration in `storage.migrations` (id, name): the highest id applied is the
*storage schema version*. Besides `buckets` and `objects` it creates tables, columns and
functions of its own that the security suite's checks see like any other object of an exposed
schema. Each is listed here with the migration that creates it and one treatment:

- `modelled`: the access model has a rule for it (S:Avatars, S:Videos on `storage.objects`,
  bucket settings on `storage.buckets`) and the checks judge it: the matrix covers the table,
  the exposed-surface check judges the object rows a listing function returns.
- `internal`: no API role reaches a row of it: row level security on and no policy (the API
  grants `select` to anon and authenticated on some of these and relies on that), or no
  privilege at all. The harness verifies that on every run; a policy or a wider grant makes it
  reachable, and then it is reported, never accepted.
- `declared`: reachable but outside the model, accepted with the reason given, under the
  condition the reason rests on (a declared function runs as the invoker).

Facts read from the Storage API's tenant migrations at tags v1.44.2 (last migration 56) to
v1.70.6 (63) and checked against databases those migrations created; objects whose migration
is marked `postgres-migrations ignore` (prefixes, `level`, `search_legacy_v1`, ...) are never
created and are not listed. Anything in `storage` not listed here for the version seen is
unknown to the harness and judged like any object of the stack.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum


class Treatment(StrEnum):
    MODELLED = "modelled"
    INTERNAL = "internal"
    DECLARED = "declared"


@dataclasses.dataclass(frozen=True)
class ApiObject:
    """A table (`storage.t`), a column (`storage.t.c`) or a function (`storage.f(identity
    args)`, as pg_get_function_identity_arguments spells them) the Storage API creates."""

    kind: str  # "table", "column", "function"
    name: str
    since: int  # the tenant migration that creates it (this form of it, for a function)
    treatment: Treatment
    reason: str

    def known_at(self, migration: int) -> bool:
        return self.since <= migration


@dataclasses.dataclass(frozen=True)
class SchemaVersion:
    """A storage schema version: the last tenant migration and the first tag that ships it."""

    migration: int
    name: str
    first_tag: str


# Last migration of each tag range the registry was checked against.
VERSIONS: tuple[SchemaVersion, ...] = (
    SchemaVersion(56, "fix-optimized-search-function", "v1.44.2"),
    SchemaVersion(57, "s3-multipart-uploads-metadata", "v1.45.0"),
    SchemaVersion(58, "operation-ergonomics", "v1.47.0"),
    SchemaVersion(59, "drop-unused-functions", "v1.55.3"),
    SchemaVersion(60, "optimize-existing-functions-again", "v1.58.1"),
    SchemaVersion(61, "mark-filename-immutable", "v1.68.5"),
    SchemaVersion(62, "object-versioning-core", "v1.70.0"),
    SchemaVersion(63, "fix-search-name-relative-to-prefix", "v1.70.5"),
)
OLDEST = VERSIONS[0]
NEWEST = VERSIONS[-1]
# stack/bootstrap/20_storage.sql copies a subset of this version's schema.
BOOTSTRAP_VERSION = NEWEST


def version(migration: int) -> SchemaVersion | None:
    return next((v for v in VERSIONS if v.migration == migration), None)


# -- reasons -----------------------------------------------------------------------------------
_INTERNAL_RLS = (
    "Storage API bookkeeping ({what}): row level security on and no policy, so no API role reads "
    "or writes a row (the API's migration grants select to anon and authenticated; the API "
    "itself works on it as service_role)"
)
_BOOKKEEPING = (
    "written by the Storage API, not by the rules: an object is judged by bucket and name "
    "(S:Avatars, S:Videos), under its row's update rule"
)
_INVOKER_LISTING = (
    "lists objects of a bucket: runs as the caller, so storage.objects' policies decide; the "
    "exposed-surface check judges every object row and folder entry it returns"
)
_PURE_TEXT = "splits or joins its text arguments; reads no table"
_OPERATION = "reads the request's storage.operation setting; reads no table"
_TRIGGER = "trigger function of the Storage API: runs inside a statement on its table only"


def _table(name: str, since: int, treatment: Treatment, reason: str) -> ApiObject:
    return ApiObject("table", f"storage.{name}", since, treatment, reason)


def _columns(table: str, treatment: Treatment, reason: str, **since: int) -> list[ApiObject]:
    return [ApiObject("column", f"storage.{table}.{c}", m, treatment, reason)
            for c, m in since.items()]


def _function(signature: str, since: int, treatment: Treatment, reason: str) -> ApiObject:
    return ApiObject("function", f"storage.{signature}", since, treatment, reason)


MOD, INT, DEC = Treatment.MODELLED, Treatment.INTERNAL, Treatment.DECLARED

REGISTRY: tuple[ApiObject, ...] = (
    # tables
    _table("buckets", 0, MOD, "bucket settings (public, size limit, mime types) per the rules"),
    _table("objects", 0, MOD, "S:Avatars and S:Videos: the matrix's storage cases"),
    _table("migrations", 0, INT, "the Storage API's migration ledger; no API role holds a "
                               "privilege on it"),
    _table("s3_multipart_uploads", 21, INT, _INTERNAL_RLS.format(what="S3 multipart uploads")),
    _table("s3_multipart_uploads_parts", 21, INT,
           _INTERNAL_RLS.format(what="parts of S3 multipart uploads")),
    _table("buckets_analytics", 38, INT, _INTERNAL_RLS.format(what="analytics (Iceberg) buckets")),
    _table("iceberg_namespaces", 38, INT, _INTERNAL_RLS.format(what="Iceberg catalog namespaces")),
    _table("iceberg_tables", 38, INT, _INTERNAL_RLS.format(what="Iceberg catalog tables")),
    _table("buckets_vectors", 45, INT, _INTERNAL_RLS.format(what="vector buckets")),
    _table("vector_indexes", 45, INT, _INTERNAL_RLS.format(what="indexes of vector buckets")),
    # columns of the modelled tables
    *_columns("objects", MOD, "what the storage rules decide on (bucket, path, owner)",
              id=0, bucket_id=0, name=0, owner=0, owner_id=18),
    *_columns("objects", DEC, _BOOKKEEPING, created_at=0, updated_at=0, last_accessed_at=0,
              metadata=0, path_tokens=3, version=16, user_metadata=25),
    *_columns("objects", DEC,
              "object versioning bookkeeping (migration 62 object-versioning-core; a check on "
              "buckets.versioning_status keeps versioning disabled): " + _BOOKKEEPING,
              archived_at=62, is_delete_marker=62, is_versioned=62),
    *_columns("buckets", MOD, "bucket settings the rules fix (tests of the buckets' settings)",
              id=0, name=0, public=8, file_size_limit=13, allowed_mime_types=13),
    *_columns("buckets", DEC, "bucket bookkeeping of the Storage API; only service_role writes "
                            "buckets", owner=0, created_at=0, updated_at=0,
              avif_autodetection=12, owner_id=18, type=38, versioning_status=62),
    # functions
    _function("search(prefix text, bucketname text, limits integer, levels integer, "
              "offsets integer, search text, sortcolumn text, sortorder text)", 50, MOD,
              _INVOKER_LISTING),
    _function("search_v2(prefix text, bucket_name text, limits integer, levels integer, "
              "start_after text, sort_order text, sort_column text, sort_column_after text)",
              50, MOD, _INVOKER_LISTING),
    _function("search_by_timestamp(p_prefix text, p_bucket_id text, p_limit integer, "
              "p_level integer, p_start_after text, p_sort_order text, p_sort_column text, "
              "p_sort_column_after text)", 50, MOD, _INVOKER_LISTING),
    _function("list_objects_with_delimiter(_bucket_id text, prefix_param text, "
              "delimiter_param text, max_keys integer, start_after text, next_token text, "
              "sort_order text)", 50, MOD, _INVOKER_LISTING),
    _function("foldername(name text)", 2, DEC, _PURE_TEXT),
    _function("filename(name text)", 2, DEC, _PURE_TEXT),
    _function("extension(name text)", 2, DEC, _PURE_TEXT),
    _function("get_common_prefix(p_key text, p_prefix text, p_delimiter text)", 50, DEC,
              _PURE_TEXT),
    _function("operation()", 24, DEC, _OPERATION),
    _function("allow_any_operation(expected_operations text[])", 58, DEC, _OPERATION),
    _function("allow_only_operation(expected_operation text)", 58, DEC, _OPERATION),
    _function("get_size_by_bucket()", 5, DEC,
              "sums the sizes of the objects the caller's policies let it read, per bucket: "
              "runs as the caller"),
    _function("can_insert_object(bucketid text, name text, owner uuid, metadata jsonb)", 15, DEC,
              "the Storage API's insert probe: inserts as the caller (storage.objects' insert "
              "policies decide) and always raises PT200 to undo it; nothing a direct insert "
              "could not do"),
    _function("list_multipart_uploads_with_delimiter(bucket_id text, prefix_param text, "
              "delimiter_param text, max_keys integer, next_key_token text, "
              "next_upload_token text)", 21, DEC,
              "lists storage.s3_multipart_uploads as the caller: an internal table (row level "
              "security, no policy), so it returns nothing to anon or authenticated"),
    _function("update_updated_at_column()", 11, DEC, _TRIGGER),
    _function("enforce_bucket_name_length()", 37, DEC, _TRIGGER),
    _function("protect_delete()", 55, DEC,
              _TRIGGER + " (migration 55: refuses a DELETE unless storage.allow_delete_query is "
              "set)"),
)


def known_at(migration: int) -> dict[str, ApiObject]:
    """The registry's objects a schema at `migration` may hold, by name."""
    return {o.name: o for o in REGISTRY if o.known_at(migration)}

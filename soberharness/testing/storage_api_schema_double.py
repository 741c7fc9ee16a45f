"""A schema double of what a real Storage API's tenant migrations leave in `storage`, for the
harness's own tests (CI has no Storage API to migrate a database).

Written here from the facts (names, columns, signatures, grants, ownership, what each function
returns; see soberharness/access/storage_api_schema.py), not copied: the tables have the real
names and columns, the functions the real signatures and result columns, run as the invoker
without a fixed search_path as the API defines them, with bodies of our own that behave alike
(the listings list objects and folders of a bucket under the caller's policies). Applied over a
database that has stack/bootstrap and the stack's migrations, as supabase_storage_admin, with
the grants the API gives (its migration 46 grants all on buckets and objects to the API roles;
select on its own tables), then narrowed as the stack documents
(stack/compose/db/narrow-storage-grants.sql).

Two versions: 56 (v1.44.2, the pin) and 63 (v1.70.5+, the newest).
"""

from __future__ import annotations

import psycopg

from soberharness.targets.migrations import REPO

NARROW = REPO / "stack" / "compose" / "db" / "narrow-storage-grants.sql"
LAST_MIGRATION = {56: "fix-optimized-search-function", 63: "fix-search-name-relative-to-prefix"}

_COMMON = r"""
set role supabase_storage_admin;

insert into storage.migrations (id, name, hash)
select g, 'schema-double-step-' || g, md5(g::text) from generate_series(0, %(last)s - 1) g;
insert into storage.migrations (id, name, hash) values (%(last)s, '%(name)s', md5('last'));

create type storage.buckettype as enum ('STANDARD', 'ANALYTICS', 'VECTOR');
alter table storage.buckets add column type storage.buckettype not null default 'STANDARD';

create table storage.s3_multipart_uploads (
  id text primary key, in_progress_size bigint not null default 0,
  upload_signature text not null, bucket_id text not null references storage.buckets (id),
  key text not null, version text not null, owner_id text,
  created_at timestamptz not null default now(), user_metadata jsonb);
create table storage.s3_multipart_uploads_parts (
  id uuid primary key default gen_random_uuid(),
  upload_id text not null references storage.s3_multipart_uploads (id) on delete cascade,
  size bigint not null default 0, part_number integer not null,
  bucket_id text not null references storage.buckets (id), key text not null, etag text not null,
  owner_id text, version text not null, created_at timestamptz not null default now());
create table storage.buckets_analytics (
  name text not null, type storage.buckettype not null default 'ANALYTICS',
  format text not null default 'ICEBERG', created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(), id uuid primary key default gen_random_uuid(),
  deleted_at timestamptz);
create table storage.iceberg_namespaces (
  id uuid primary key default gen_random_uuid(), bucket_name text not null, name text not null,
  created_at timestamptz not null default now(), updated_at timestamptz not null default now(),
  metadata jsonb not null default '{}', catalog_id uuid not null);
create table storage.iceberg_tables (
  id uuid primary key default gen_random_uuid(), namespace_id uuid not null,
  bucket_name text not null, name text not null, location text not null,
  created_at timestamptz not null default now(), updated_at timestamptz not null default now(),
  remote_table_id text, shard_key text, shard_id text, catalog_id uuid not null);
create table storage.buckets_vectors (
  id text primary key, type storage.buckettype not null default 'VECTOR',
  created_at timestamptz not null default now(), updated_at timestamptz not null default now());
create table storage.vector_indexes (
  id text primary key default gen_random_uuid()::text, name text not null,
  bucket_id text not null references storage.buckets_vectors (id), data_type text not null,
  dimension integer not null, distance_metric text not null, metadata_configuration jsonb,
  created_at timestamptz not null default now(), updated_at timestamptz not null default now());

alter table storage.migrations enable row level security;
alter table storage.s3_multipart_uploads enable row level security;
alter table storage.s3_multipart_uploads_parts enable row level security;
alter table storage.buckets_analytics enable row level security;
alter table storage.iceberg_namespaces enable row level security;
alter table storage.iceberg_tables enable row level security;
alter table storage.buckets_vectors enable row level security;
alter table storage.vector_indexes enable row level security;

-- The API redefines these without a fixed search_path.
alter function storage.foldername(text) reset search_path;
alter function storage.filename(text) reset search_path;
alter function storage.extension(text) reset search_path;
alter function storage.update_updated_at_column() reset search_path;
alter function storage.search(text, text, integer, integer, integer, text, text, text)
  reset search_path;

create function storage.operation() returns text language sql stable
as $$ select current_setting('storage.operation', true) $$;

create function storage.get_common_prefix(p_key text, p_prefix text, p_delimiter text)
returns text language sql immutable
as $$
  select case when strpos(substr(p_key, length(p_prefix) + 1), p_delimiter) = 0 then null
         else left(p_key, length(p_prefix) + strpos(substr(p_key, length(p_prefix) + 1),
                                                     p_delimiter)) end
$$;

create function storage.get_size_by_bucket() returns table (size bigint, bucket_id text)
language sql stable
as $$
  select sum((o.metadata ->> 'size')::bigint)::bigint, o.bucket_id
  from storage.objects o group by o.bucket_id
$$;

create function storage.can_insert_object(bucketid text, name text, owner uuid, metadata jsonb)
returns void language plpgsql
as $$
begin
  insert into storage.objects (bucket_id, name, owner, metadata)
  values (bucketid, name, owner, metadata);
  raise sqlstate 'PT200' using message = 'ROLLBACK', detail = 'probe only';
end
$$;

create function storage.list_multipart_uploads_with_delimiter(
  bucket_id text, prefix_param text, delimiter_param text, max_keys integer default 100,
  next_key_token text default '', next_upload_token text default '')
returns table (key text, id text, created_at timestamptz) language sql stable
as $$
  select u.key, u.id, u.created_at from storage.s3_multipart_uploads u
  where u.bucket_id = $1 and u.key like $2 || '%%' and u.key > $5
  order by u.key limit $4
$$;

-- One level of a bucket below a prefix: a folder entry (no id) per next path element, then
-- the files at that level.
create function storage.list_objects_with_delimiter(
  _bucket_id text, prefix_param text, delimiter_param text, max_keys integer default 100,
  start_after text default '', next_token text default '', sort_order text default 'asc')
returns table (name text, id uuid, metadata jsonb, updated_at timestamptz,
               created_at timestamptz, last_accessed_at timestamptz)
language sql stable
as $$
  with cut as (
    select o.*, strpos(substr(o.name, length(prefix_param) + 1), delimiter_param) as at
    from storage.objects o
    where o.bucket_id = _bucket_id and o.name like prefix_param || '%%'
      and o.name > coalesce(nullif(next_token, ''), start_after)
  )
  select * from (
    select distinct left(c.name, length(prefix_param) + c.at), null::uuid, null::jsonb,
           null::timestamptz, null::timestamptz, null::timestamptz
    from cut c where c.at > 0
    union all
    select c.name, c.id, c.metadata, c.updated_at, c.created_at, c.last_accessed_at
    from cut c where c.at = 0
  ) e (name, id, metadata, updated_at, created_at, last_accessed_at)
  order by case when lower(sort_order) = 'desc' then null else e.name end,
           e.name desc
  limit max_keys
$$;

create function storage.search_v2(
  prefix text, bucket_name text, limits integer default 100, levels integer default 1,
  start_after text default '', sort_order text default 'asc', sort_column text default 'name',
  sort_column_after text default '')
returns table (key text, name text, id uuid, updated_at timestamptz, created_at timestamptz,
               last_accessed_at timestamptz, metadata jsonb)
language sql stable
as $$
  select l.name, substr(l.name, length(prefix) + 1), l.id, l.updated_at, l.created_at,
         l.last_accessed_at, l.metadata
  from storage.list_objects_with_delimiter(bucket_name, prefix, '/', limits, start_after, '',
                                           sort_order) l
$$;

create function storage.search_by_timestamp(
  p_prefix text, p_bucket_id text, p_limit integer, p_level integer, p_start_after text,
  p_sort_order text, p_sort_column text, p_sort_column_after text)
returns table (key text, name text, id uuid, updated_at timestamptz, created_at timestamptz,
               last_accessed_at timestamptz, metadata jsonb)
language sql stable
as $$
  select * from storage.search_v2(p_prefix, p_bucket_id, p_limit, p_level, p_start_after,
                                   p_sort_order, p_sort_column, p_sort_column_after)
  order by 4 nulls first
$$;

create function storage.enforce_bucket_name_length() returns trigger language plpgsql
as $$
begin
  if length(new.name) > 100 then
    raise exception 'bucket name "%%" is too long (%% characters); 100 at most',
      new.name, length(new.name);
  end if;
  return new;
end
$$;
create trigger enforce_bucket_name_length_trigger before insert or update of name
  on storage.buckets for each row execute function storage.enforce_bucket_name_length();
"""

# Migration 57 adds a metadata column to multipart uploads, 58 the operation helpers, 62 object
# versioning columns; 61 marks the path helpers immutable.
_NEWER = r"""
alter table storage.s3_multipart_uploads add column metadata jsonb;

create function storage.allow_only_operation(expected_operation text) returns boolean
language sql stable
as $$ select coalesce(storage.operation() = expected_operation, false) $$;
create function storage.allow_any_operation(expected_operations text[]) returns boolean
language sql stable
as $$ select coalesce(storage.operation() = any(expected_operations), false) $$;

alter table storage.buckets add column versioning_status text not null default 'DISABLED'
  check (versioning_status = 'DISABLED');
alter table storage.objects add column archived_at timestamptz,
  add column is_delete_marker boolean not null default false,
  add column is_versioned boolean not null default false;
"""

_API_GRANTS = r"""
reset role;
grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
"""


def statements(version: int) -> str:
    """The double's SQL for storage schema `version` (56 or 63)."""
    if version not in LAST_MIGRATION:
        raise ValueError(f"no schema double for storage schema version {version}")
    text = _COMMON % {"last": version, "name": LAST_MIGRATION[version]}
    if version >= 63:
        text += _NEWER
    return text + _API_GRANTS


def apply(conn: psycopg.Connection, version: int, narrow: bool = True) -> None:
    """Turn the stack's storage schema behind `conn` (a superuser, autocommit) into the double
    of `version`, narrowed as the stack documents unless `narrow` is false."""
    conn.execute(statements(version).encode())
    if narrow:
        apply_narrowing(conn)


def apply_narrowing(conn: psycopg.Connection) -> None:
    """The stack's narrow-storage-grants.sql, as its docs say to run it after the API's
    migrations."""
    conn.execute(NARROW.read_text().encode())

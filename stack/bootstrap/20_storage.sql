-- The storage schema as the Storage API's tenant migrations leave it, in the subset SoberTube
-- relies on. It follows Storage API v1.70.6 (supabase/storage, tenant migrations 0000-0063):
-- buckets, objects (with the generated path_tokens column), the migrations ledger, the path
-- helpers, the search function, and the triggers of migration 0055 (prevent-direct-deletes)
-- that refuse a DELETE on buckets or objects unless the transaction sets
-- storage.allow_delete_query to 'true', as the Storage API does in every request.
--
-- It is a SUBSET: the real schema also has prefixes, s3 multipart uploads, vector and iceberg
-- buckets, object versioning, more columns (buckets.type, objects.level, ...), more functions
-- (search_v2, list_objects_with_delimiter, ...) and more triggers. storage.migrations stays
-- empty here, so a Storage API started on this database runs all its migrations over this
-- copy (seen with v1.70.6: they apply cleanly). The comment on the schema names this file, so a
-- run can report which storage schema it saw (soberharness/checker/storage_schema.py).
--
-- Owned by supabase_storage_admin, which is how the Storage API creates them; the API roles
-- get table privileges and RLS does the filtering.

create schema if not exists storage authorization supabase_storage_admin;
grant all on schema storage to supabase_storage_admin with grant option;
grant usage on schema storage to postgres, anon, authenticated, service_role;
comment on schema storage is
  'soberharness bootstrap subset (stack/bootstrap/20_storage.sql) of Storage API v1.70.6';

-- Whatever the storage admin creates in its schema is granted to the API roles, as the image sets
-- it up. Objects below are created as that role so these defaults apply to them.
alter default privileges for role supabase_storage_admin in schema storage
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_storage_admin in schema storage
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_storage_admin in schema storage
  grant all on sequences to postgres, anon, authenticated, service_role;

set role supabase_storage_admin;

create table storage.migrations (
  id integer primary key,
  name varchar(100) unique not null,
  hash varchar(40) not null,
  executed_at timestamp default current_timestamp
);

create table storage.buckets (
  id text not null primary key,
  name text not null,
  owner uuid,
  owner_id text,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  public boolean default false,
  avif_autodetection boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[]
);
create unique index bname on storage.buckets using btree (name);

create table storage.objects (
  id uuid not null default gen_random_uuid() primary key,
  bucket_id text constraint "objects_bucketId_fkey" references storage.buckets (id),
  name text,
  owner uuid,
  owner_id text,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now(),
  metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  version text,
  user_metadata jsonb
);
create unique index bucketid_objname on storage.objects using btree (bucket_id, name);
create index name_prefix_search on storage.objects using btree (name text_pattern_ops);

alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;

-- Path helpers used by storage policies: 'a/b/c.png' -> {a,b}, 'c.png', 'png'.
create function storage.foldername(name text) returns text[]
  language plpgsql immutable
  set search_path = ''
as $fn$
declare
  parts text[] := string_to_array(name, '/');
begin
  return parts[1 : array_length(parts, 1) - 1];
end
$fn$;

create function storage.filename(name text) returns text
  language plpgsql immutable
  set search_path = ''
as $fn$
declare
  parts text[] := string_to_array(name, '/');
begin
  return parts[array_length(parts, 1)];
end
$fn$;

create function storage.extension(name text) returns text
  language plpgsql immutable
  set search_path = ''
as $fn$
declare
  parts text[] := string_to_array(name, '/');
  last_part text := parts[array_length(parts, 1)];
begin
  return reverse(split_part(reverse(last_part), '.', 1));
end
$fn$;

-- Listing one level of a bucket under a prefix: folders first (name only), then files.
-- Runs as the caller, so storage.objects' RLS decides what is listed.
create function storage.search(
  prefix text,
  bucketname text,
  limits integer default 100,
  levels integer default 1,
  offsets integer default 0,
  search text default '',
  sortcolumn text default 'name',
  sortorder text default 'asc'
) returns table (
  name text,
  id uuid,
  updated_at timestamptz,
  created_at timestamptz,
  last_accessed_at timestamptz,
  metadata jsonb
)
  language plpgsql stable
  set search_path = ''
as $fn$
declare
  order_column text := case when sortcolumn in ('name', 'updated_at', 'created_at', 'last_accessed_at')
                            then sortcolumn else 'name' end;
  order_direction text := case when lower(sortorder) = 'desc' then 'desc' else 'asc' end;
begin
  return query execute format(
    'with matching as (
       select o.path_tokens, o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata
       from storage.objects o
       where o.bucket_id = $1 and o.name ilike $2 || $3 || ''%%''
     ),
     folders as (
       select distinct m.path_tokens[$4] as folder
       from matching m
       where array_length(m.path_tokens, 1) > $4
     )
     (select f.folder as name, null::uuid as id, null::timestamptz as updated_at,
             null::timestamptz as created_at, null::timestamptz as last_accessed_at,
             null::jsonb as metadata
      from folders f order by f.folder %2$s)
     union all
     (select m.path_tokens[$4] as name, m.id, m.updated_at, m.created_at, m.last_accessed_at,
             m.metadata
      from matching m
      where array_length(m.path_tokens, 1) = $4
      order by %1$I %2$s)
     limit $5 offset $6',
    order_column, order_direction)
  using bucketname, prefix, search, levels, limits, offsets;
end
$fn$;

-- Keeps objects.updated_at current, as the Storage API's trigger does.
create function storage.update_updated_at_column() returns trigger
  language plpgsql
  set search_path = ''
as $fn$
begin
  new.updated_at := now();
  return new;
end
$fn$;

create trigger update_objects_updated_at
  before update on storage.objects
  for each row execute function storage.update_updated_at_column();

-- Migration 0055 (prevent-direct-deletes): a DELETE on buckets or objects is refused unless the
-- transaction says it comes from the Storage API (set_config('storage.allow_delete_query',
-- 'true', true)). Statement-level, so it fires even when no row matches.
create function storage.protect_delete() returns trigger
  language plpgsql
as $fn$
begin
  if coalesce(current_setting('storage.allow_delete_query', true), 'false') != 'true' then
    raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
      using hint = 'This prevents accidental data loss from orphaned objects.',
            errcode = '42501';
  end if;
  return null;
end
$fn$;

create trigger protect_buckets_delete
  before delete on storage.buckets
  for each statement execute function storage.protect_delete();
create trigger protect_objects_delete
  before delete on storage.objects
  for each statement execute function storage.protect_delete();

reset role;

grant all on all tables in schema storage to supabase_storage_admin;
grant all on all sequences in schema storage to supabase_storage_admin;
-- The migrations ledger is the Storage API's own bookkeeping; the API roles do not need it.
revoke all on storage.migrations from anon, authenticated;

grant all on schema storage to dashboard_user;
grant all on all sequences in schema storage to dashboard_user;
grant all on all routines in schema storage to dashboard_user;

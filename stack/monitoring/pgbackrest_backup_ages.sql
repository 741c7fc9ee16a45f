-- How old each pgBackRest stanza's newest backup is, for Prometheus (PostgresBackupTooOld in
-- alerts.yml): postgres-exporter runs monitoring.pgbackrest_backup_ages() through
-- postgres-exporter-queries.yml and exports pgbackrest_backup_since_last_completion_seconds
-- {stanza}. It asks pgBackRest itself (`pgbackrest --output=json info`, run by the server's
-- OS account, so the repository may be anywhere pgBackRest reaches: a folder, S3, ...). A
-- stanza without any backup is infinitely old (the alert fires). pgBackRest's config file is
-- its default one, or `sober.pgbackrest_config` when the server's configuration sets it (a
-- plain path: the value goes into a shell command). Only superusers (the exporter's login,
-- supabase_admin) may run it: it runs a program on the database's host.
-- Mounted as a database init script by the compose file and the k8s manifests; suites/ops
-- applies it to the monitoring stack's PostgreSQL.
create schema if not exists monitoring;
revoke all on schema monitoring from public;

create or replace function monitoring.pgbackrest_backup_ages()
returns table (stanza text, since_last_completion_seconds double precision)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  config text := current_setting('sober.pgbackrest_config', true);
  command text := 'pgbackrest --output=json info';
  info jsonb;
begin
  if coalesce(config, '') <> '' then
    if config !~ '^[A-Za-z0-9_./-]+$' then
      raise exception 'sober.pgbackrest_config must be a plain path';
    end if;
    command := 'pgbackrest --config=' || config || ' --output=json info';
  end if;
  create temp table if not exists pgbackrest_info_output (line text);
  truncate pgbackrest_info_output;
  execute format('copy pgbackrest_info_output from program %L '
                 'with (format csv, delimiter e''\x01'', quote e''\x02'')', command);
  select string_agg(line, e'\n')::jsonb into info from pgbackrest_info_output;
  return query
    select s->>'name',
           coalesce(extract(epoch from now())
                      - (select max((b->'timestamp'->>'stop')::double precision)
                           from jsonb_array_elements(coalesce(s->'backup', '[]')) b),
                    'Infinity'::double precision)
      from jsonb_array_elements(coalesce(info, '[]')) s;
end
$$;

revoke all on function monitoring.pgbackrest_backup_ages() from public;

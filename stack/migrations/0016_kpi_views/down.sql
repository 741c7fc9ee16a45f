-- Back to no KPI views. The schema `monitoring` goes too unless something else lives in it
-- (the database init script pgbackrest_backup_ages.sql puts a function there on compose and
-- Kubernetes): then only pg_monitor's usage, which the up step granted, is taken back.
drop function monitoring.realtime_subscribers();
drop view monitoring.sobertube_kpis;

do $down$
begin
  if exists (select 1 from pg_depend d join pg_namespace n on n.oid = d.refobjid
              where d.refclassid = 'pg_namespace'::regclass and n.nspname = 'monitoring'
                and d.deptype = 'n') then
    revoke usage on schema monitoring from pg_monitor;
  else
    drop schema monitoring;
  end if;
end
$down$;

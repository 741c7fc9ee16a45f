-- Database-level grants the image gives at the end of its setup. Written for whatever database
-- this runs in (the image hard-codes "postgres"; here databases are copies of a template).
do $db$
begin
  execute format('grant all on database %I to postgres, dashboard_user', current_database());
  execute format('grant create on database %I to supabase_storage_admin', current_database());
  execute format('grant connect, create, temporary on database %I to supabase_auth_admin', current_database());
end
$db$;

grant all on all tables in schema extensions to dashboard_user;
grant all on all sequences in schema extensions to dashboard_user;
grant all on all routines in schema extensions to dashboard_user;
grant all on schema extensions to postgres;
grant all on all tables in schema extensions to postgres;
grant all on all sequences in schema extensions to postgres;
grant all on all routines in schema extensions to postgres;

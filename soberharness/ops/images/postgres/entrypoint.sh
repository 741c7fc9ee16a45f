#!/bin/bash
# First start (an empty PGDATA): initdb with supabase_admin as the superuser, the stack's
# bootstrap into $POSTGRES_DB, then the init scripts mounted under /docker-entrypoint-initdb.d
# (init-scripts/*.sql, then migrations/*.sql, each in name order), all through the socket
# only; then the server itself, as the postgres account. Any failure stops the container with
# the failing file named (the containers target reports its last line).
set -euo pipefail
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
socket=/var/run/postgresql
db="${POSTGRES_DB:-postgres}"

if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  chown postgres:postgres "$PGDATA" "$socket"
  as_postgres initdb -D "$PGDATA" -U supabase_admin -A trust -E UTF8 --locale=C --no-sync \
    --no-instructions >/dev/null
  as_postgres pg_ctl -D "$PGDATA" -w -t 60 -o "-c config_file=/etc/postgresql/postgresql.conf -c listen_addresses=''" start >/dev/null
  run_sql() { # FILE
    echo "sober-postgres: applying $1"
    if ! as_postgres psql -h "$socket" -U supabase_admin -d "$db" -v ON_ERROR_STOP=1 -q \
        -f "$1" >/dev/null; then
      echo "sober-postgres: $1 failed" >&2
      exit 1
    fi
  }
  if [ "$db" != postgres ]; then
    as_postgres psql -h "$socket" -U supabase_admin -d postgres -v ON_ERROR_STOP=1 -q \
      -c "CREATE DATABASE \"$db\""
  fi
  shopt -s nullglob
  for file in /sober-image/bootstrap/*.sql /docker-entrypoint-initdb.d/init-scripts/*.sql \
      /docker-entrypoint-initdb.d/migrations/*.sql; do
    run_sql "$file"
  done
  as_postgres pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
  echo "sober-postgres: initialised"
fi
if [ "${1:-}" = postgres ]; then
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
fi
exec "$@"

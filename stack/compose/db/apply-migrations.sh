#!/usr/bin/env bash
# Apply SoberTube's migrations (DIR/NNNN_name/up.sql) in name order, each once, each in
# one transaction. Applied names are kept in supabase_migrations.schema_migrations, the
# table the Supabase CLI uses for the same purpose. Connection from the PG* variables.
set -euo pipefail
dir="${1:?usage: apply-migrations.sh DIR}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

psql -v ON_ERROR_STOP=1 -q <<'SQL'
CREATE SCHEMA IF NOT EXISTS supabase_migrations;
CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (
    version text PRIMARY KEY,
    name text,
    statements text[]
);
SQL

shopt -s nullglob
applied=0
for up in "$dir"/*/up.sql; do
    name="$(basename "$(dirname "$up")")"
    version="${name%%_*}"
    done_already="$(printf '%s\n' "SELECT 1 FROM supabase_migrations.schema_migrations WHERE version = :'v';" \
        | psql -At -v ON_ERROR_STOP=1 -v v="$version")"
    if [ -n "$done_already" ]; then
        continue
    fi
    echo "applying $name"
    {
        cat "$up"
        printf '\n%s\n' "INSERT INTO supabase_migrations.schema_migrations (version, name) VALUES (:'v', :'n');"
    } | psql -v ON_ERROR_STOP=1 -q --single-transaction -v v="$version" -v n="$name"
    applied=$((applied + 1))
done
echo "migrations applied: $applied"

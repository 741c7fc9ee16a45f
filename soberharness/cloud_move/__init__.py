"""Move a SoberTube deployment's data from one database to another, then check that both agree.

`python -m soberharness.cloud_move --from-env SRC_DSN_VAR --to-env DST_DSN_VAR [--check-only]
[--replace] [--objects-from-env SRC_STORE_VAR --objects-to-env DST_STORE_VAR [--objects-only]]`
reads the two DSNs (and the two object stores, JSON: endpoint, access_key, secret_key, bucket,
prefix) from the named environment variables (never from the command line, where they would
show in process lists), then:

1. **move**: copies the app tables (every base table of `public`), `auth.users`,
   `auth.identities` and the storage metadata (`storage.buckets`, `storage.objects`) with COPY,
   in one destination transaction with `session_replication_role = replica` (foreign keys and
   the stack's guard triggers are the source's business: rows arrive as they are, passwords
   as their bcrypt hashes). Only columns both sides have are copied. The destination's tables
   must be empty unless `--replace`, which truncates them first (cascading): a freshly
   migrated deployment already has its buckets, so moving onto one needs `--replace`.
   With the object stores named, the object bytes move too (soberharness.cloud_move.objects):
   every object a `storage.objects` row names is copied from the source store to the
   destination store, resumably (what the destination already holds, same size and source
   ETag, is skipped: a rerun after a kill copies nothing twice), one `copied KEY` line each.
   `--objects-only` moves and checks the objects alone.
2. **check** (also alone with `--check-only`): per table, the row count and an
   order-independent checksum of the common columns (md5 of each row's text, sorted in the
   "C" collation, so neither side's collation changes it); and the access policies
   (`pg_policies`: command, roles, USING and WITH CHECK, and whether RLS is on) per table;
   and the collation of every indexed text column (a different one sorts the index and
   ORDER BY differently). With the object stores: every object on both sides is read whole
   and judged against the destination's rows (soberharness.cloud_move.verdict): lost,
   truncated, altered, of another size, a row without an object, an object without a row.

One line per difference; exit 0 when both sides agree, 1 when they differ, 4 on bad input (one
line, no DSN or password in it). Needs a role that may set `session_replication_role` (a
superuser, or `supabase_admin`) on the destination.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence

import psycopg
from psycopg import sql

from soberharness.cloud_move import objects, verdict
from soberharness.db import session as db_session
from soberharness.errors import Exit, HarnessError, OneLineParser

FIXED_TABLES = ("auth.users", "auth.identities", "storage.buckets", "storage.objects")
# Both sides render values the same way whatever their server settings (COPY and checksums
# go through text).
SESSION = ("set timezone = 'UTC'", "set datestyle = 'ISO, YMD'", "set intervalstyle = 'postgres'",
           "set extra_float_digits = 3", "set bytea_output = 'hex'")
CONNECT_TIMEOUT_S = 10
COPY_CHUNK = 1 << 16


@dataclasses.dataclass(frozen=True)
class TableState:
    rows: int
    checksum: str


def tables(conn: psycopg.Connection) -> list[str]:
    """The tables a deployment's data lives in: public's base tables and the fixed ones that
    exist."""
    found = [f"public.{name}" for (name,) in conn.execute(
        "select tablename from pg_tables where schemaname = 'public' order by tablename")]
    for qualified in FIXED_TABLES:
        if conn.execute("select to_regclass(%s)", (qualified,)).fetchone()[0] is not None:
            found.append(qualified)
    return found


def columns(conn: psycopg.Connection, qualified: str) -> list[str]:
    schema, name = qualified.split(".")
    return [c for (c,) in conn.execute(
        "select attname from pg_attribute where attrelid = to_regclass(%s) and attnum > 0 "
        "and not attisdropped and attgenerated = '' order by attnum", (f"{schema}.{name}",))]


def _ident(qualified: str) -> sql.Composable:
    schema, name = qualified.split(".")
    return sql.Identifier(schema, name)


def common_tables(src: psycopg.Connection, dst: psycopg.Connection) -> list[tuple[str, list[str]]]:
    """(table, columns both sides have) for every table on the source, in the source's order."""
    dst_tables = set(tables(dst))
    out = []
    for table in tables(src):
        if table in dst_tables:
            dst_columns = set(columns(dst, table))
            out.append((table, [c for c in columns(src, table) if c in dst_columns]))
    return out


def move(src: psycopg.Connection, dst: psycopg.Connection, replace: bool = False) -> list[str]:
    """Copy every common table from `src` to `dst`; return what was copied, one line a table.
    Raises HarnessError (and changes nothing) when the destination already holds data."""
    plan = common_tables(src, dst)
    missing = sorted(set(tables(src)) - {t for t, _ in plan})
    if missing:
        raise HarnessError(f"the destination lacks tables {missing}: apply the migrations first")
    if not replace:
        full = [t for t, _ in plan if dst.execute(
            sql.SQL("select exists (select from {})").format(_ident(t))).fetchone()[0]]
        if full:
            raise HarnessError(f"the destination already holds rows in {full} "
                               "(use --replace to empty them first)")
    lines = []
    with dst.transaction():
        dst.execute("set local session_replication_role = replica")
        if replace:
            dst.execute(sql.SQL("truncate {} cascade").format(
                sql.SQL(", ").join(_ident(t) for t, _ in plan)))
        for table, cols in plan:
            names = sql.SQL(", ").join(map(sql.Identifier, cols))
            out = sql.SQL("copy (select {} from {}) to stdout").format(
                names, _ident(table))
            into = sql.SQL("copy {} ({}) from stdin").format(_ident(table), names)
            with src.cursor().copy(out) as reader, dst.cursor().copy(into) as writer:
                for chunk in reader:
                    writer.write(chunk)
            rows = dst.execute(sql.SQL("select count(*) from {}").format(_ident(table)))\
                .fetchone()[0]
            lines.append(f"{table}: {rows} rows")
    return lines


def table_state(conn: psycopg.Connection, table: str, cols: Sequence[str]) -> TableState:
    row = sql.SQL("row({})::text").format(sql.SQL(", ").join(map(sql.Identifier, cols)))
    query = sql.SQL(
        "select count(*), coalesce(md5(string_agg(h, '' order by h collate \"C\")), '') "
        "from (select md5({}) as h from {}) t").format(row, _ident(table))
    rows, checksum = conn.execute(query).fetchone()
    return TableState(int(rows), str(checksum))


def policies(conn: psycopg.Connection) -> dict[str, str]:
    """`table policy` -> its definition; `table (rls)` -> whether row level security is on."""
    out = {}
    for schema, table, name, cmd, roles, permissive, qual, check in conn.execute(
            "select schemaname, tablename, policyname, cmd, roles::text, permissive, qual, "
            "with_check from pg_policies where schemaname in ('public', 'storage') "
            "order by 1, 2, 3"):
        out[f"{schema}.{table} policy {name}"] = (
            f"{permissive} for {cmd} to {roles} using ({qual}) with check ({check})")
    for schema, table, enabled, forced in conn.execute(
            "select n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname in ('public', 'storage') and c.relkind in ('r', 'p') order by 1, 2"):
        out[f"{schema}.{table} (rls)"] = f"enabled={enabled} forced={forced}"
    return out


def index_collations(conn: psycopg.Connection) -> dict[str, str]:
    """`schema.table.column` -> `collation/provider` of every indexed text column (the
    database's own for "default"): where it differs, indexes and ORDER BY sort differently."""
    query = """
        select distinct n.nspname || '.' || c.relname || '.' || a.attname,
               case when co.collname = 'default' then d.datcollate else co.collname end
               || '/' || case when co.collname = 'default' then d.datlocprovider::text
                              else co.collprovider::text end
        from pg_index i
        join pg_class c on c.oid = i.indrelid
        join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum = any(i.indkey)
        join pg_collation co on co.oid = a.attcollation
        cross join (select datcollate, datlocprovider from pg_database
                    where datname = current_database()) d
        where n.nspname in ('public', 'auth', 'storage')
        order by 1"""
    providers = {"c": "libc", "i": "icu", "b": "builtin", "d": "default"}
    out = {}
    for column, value in conn.execute(query):
        name, _, provider = str(value).rpartition("/")
        out[str(column)] = f"{name} ({providers.get(provider, provider)})"
    return out


def check(src: psycopg.Connection, dst: psycopg.Connection) -> list[str]:
    """One line per difference between the two sides' data and policies."""
    problems = []
    for table, cols in common_tables(src, dst):
        a, b = table_state(src, table, cols), table_state(dst, table, cols)
        if a.rows != b.rows:
            problems.append(f"{table}: {a.rows} rows on the source, {b.rows} on the destination")
        elif a.checksum != b.checksum:
            problems.append(f"{table}: same row count ({a.rows}), different contents")
    for table in sorted(set(tables(src)) - set(tables(dst))):
        problems.append(f"{table}: missing on the destination")
    a_coll, b_coll = index_collations(src), index_collations(dst)
    for column in sorted(a_coll.keys() & b_coll.keys()):
        if a_coll[column] != b_coll[column]:
            problems.append(f"{column} (indexed): collation {a_coll[column]} on the source, "
                            f"{b_coll[column]} on the destination (sorts differently)")
    a_policies, b_policies = policies(src), policies(dst)
    for key in sorted(a_policies.keys() | b_policies.keys()):
        left, right = a_policies.get(key), b_policies.get(key)
        if left == right:
            continue
        if right is None:
            problems.append(f"{key}: missing on the destination")
        elif left is None:
            problems.append(f"{key}: only on the destination")
        else:
            problems.append(f"{key}: differs: source {left}; destination {right}")
    return problems


def _dsn(environ: Mapping[str, str], var: str, what: str = "a DSN") -> str:
    value = environ.get(var)
    if not value:
        raise HarnessError(f"environment variable {var} is not set (it should hold {what})")
    return value


def _stores(environ: Mapping[str, str], from_var: str | None, to_var: str | None,
            objects_only: bool) -> tuple[objects.Location, objects.Location] | None:
    if from_var is None and to_var is None:
        if objects_only:
            raise HarnessError("--objects-only needs --objects-from-env and --objects-to-env")
        return None
    if from_var is None or to_var is None:
        raise HarnessError("name both object stores: --objects-from-env and --objects-to-env")
    what = "an object store as JSON"
    return (objects.Location.from_json(_dsn(environ, from_var, what), from_var),
            objects.Location.from_json(_dsn(environ, to_var, what), to_var))


def _objects(src: psycopg.Connection, dst: psycopg.Connection, src_store: objects.Location,
             dst_store: objects.Location, move_bytes: bool) -> list[str]:
    """Move (unless only checking) then judge the object bytes; one line per finding."""
    if move_bytes:
        report = objects.move_objects(objects.object_rows(src), src_store, dst_store,
                                      on_copied=lambda key: print(f"copied {key}", flush=True))
        print(f"objects: {len(report.copied)} copied ({report.bytes_copied} bytes), "
              f"{len(report.skipped)} already there", flush=True)
    rows = objects.row_sizes(objects.object_rows(dst))
    findings = verdict.judge(rows, objects.holdings(src_store), objects.holdings(dst_store))
    return [f"object {f.line()}" for f in findings]


def _connect(dsn: str, side: str, var: str) -> psycopg.Connection:
    try:
        conn = db_session.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HarnessError(f"cannot connect to the {side} (${var}): {first}") from None
    for statement in SESSION:
        conn.execute(statement)
    return conn


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = OneLineParser(prog="python -m soberharness.cloud_move",
                           description="Move a deployment's data, then check it.")
    parser.add_argument("--from-env", required=True, metavar="VAR",
                        help="environment variable holding the source DSN")
    parser.add_argument("--to-env", required=True, metavar="VAR",
                        help="environment variable holding the destination DSN")
    parser.add_argument("--check-only", action="store_true", help="compare, move nothing")
    parser.add_argument("--replace", action="store_true",
                        help="empty the destination's tables before copying")
    parser.add_argument("--objects-from-env", metavar="VAR",
                        help="environment variable holding the source object store (JSON)")
    parser.add_argument("--objects-to-env", metavar="VAR",
                        help="environment variable holding the destination object store")
    parser.add_argument("--objects-only", action="store_true",
                        help="move and check the object bytes only (not the rows)")
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        stores = _stores(env, args.objects_from_env, args.objects_to_env, args.objects_only)
        src_dsn, dst_dsn = _dsn(env, args.from_env), _dsn(env, args.to_env)
        with _connect(src_dsn, "source", args.from_env) as src, \
                _connect(dst_dsn, "destination", args.to_env) as dst:
            if not args.check_only and not args.objects_only:
                for line in move(src, dst, replace=args.replace):
                    print(f"moved {line}")
            problems = [] if args.objects_only else check(src, dst)
            if stores is not None:
                problems += _objects(src, dst, *stores, move_bytes=not args.check_only)
    except HarnessError as exc:
        print(f"soberharness.cloud_move: {exc}", file=sys.stderr)
        return Exit.BAD_INPUT
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"soberharness.cloud_move: {type(exc).__name__}: {first}", file=sys.stderr)
        return Exit.BAD_INPUT
    for line in problems:
        print(f"DIFF {line}")
    print("source and destination agree" if not problems
          else f"{len(problems)} difference(s) between source and destination")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

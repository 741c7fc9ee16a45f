"""Lint: what Realtime's DELETE events tell every subscriber of a published table.

Realtime re-checks a subscriber's RLS for INSERT and UPDATE changes, but it cannot for DELETE
(the row is gone): every subscriber of the table gets the event with an `old_record`. Which
columns that record holds follows from Realtime's `realtime.apply_rls` (read in
supabase/realtime's migrations): the table's replica identity columns as the WAL carries them
(`default`: the primary key; `full`: every column; `index`: that index's columns; `nothing`:
none), only those the API role may SELECT, and — on a table with RLS enabled — only the
primary key columns among them. A publication that does not publish deletes sends none.

A finding is a published table, with rows RLS hides from some subscriber, whose DELETE payload
reveals more than an opaque row id: a column of a foreign key (who follows whom, whose like on
which post, who blocked whom) or a key of several columns (a relation in itself). A single
surrogate id column names nothing the subscriber could not see anyway.

Publication column lists are not taken into account: Realtime decodes with wal2json, which
ignores them.
"""

from __future__ import annotations

import psycopg

from soberharness.lints.base import LintScope, rows
from soberharness.records.results import LintFinding, Severity

PUBLICATION = "supabase_realtime"
RULE = "realtime_delete_reveals"

_QUERY = """
with published as (
    select c.oid, n.nspname || '.' || c.relname as name, c.relreplident as ident
    from pg_catalog.pg_publication_tables pt
    join pg_catalog.pg_publication p on p.pubname = pt.pubname
    join pg_catalog.pg_namespace n on n.nspname = pt.schemaname
    join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = pt.tablename
    where pt.pubname = %(publication)s and p.pubdelete and c.relrowsecurity
),
pk as (
    select i.indrelid as oid, unnest(i.indkey::int2[]) as attnum
    from pg_catalog.pg_index i where i.indisprimary
),
identity_cols as (
    select t.oid, a.attnum, a.attname
    from published t
    join pg_catalog.pg_attribute a on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
    where t.ident = 'f'
       or (t.ident = 'd' and exists (select 1 from pk where pk.oid = t.oid
                                                          and pk.attnum = a.attnum))
       or (t.ident = 'i' and exists (
              select 1 from pg_catalog.pg_index i
              where i.indrelid = t.oid and i.indisreplident
                and a.attnum = any(i.indkey::int2[])))
),
payload as (  -- RLS is on for every published table here: the primary key columns only
    select ic.oid, ic.attnum, ic.attname
    from identity_cols ic
    where exists (select 1 from pk where pk.oid = ic.oid and pk.attnum = ic.attnum)
      and exists (select 1 from unnest(%(roles)s::text[]) r
                  where pg_catalog.has_column_privilege(r, ic.oid, ic.attnum, 'SELECT'))
)
select t.name,
       array_agg(p.attname::text order by p.attnum) as columns,
       array_agg(distinct rn.nspname || '.' || rc.relname)
           filter (where f.confrelid is not null) as references
from published t
join payload p on p.oid = t.oid
left join pg_catalog.pg_constraint f
       on f.conrelid = t.oid and f.contype = 'f' and p.attnum = any(f.conkey)
left join pg_catalog.pg_class rc on rc.oid = f.confrelid
left join pg_catalog.pg_namespace rn on rn.oid = rc.relnamespace
where exists (  -- some API role is not shown every row by a plain `true` policy
    select 1 from unnest(%(roles)s::text[]) r
    where not exists (
        select 1 from pg_catalog.pg_policy po
        where po.polrelid = t.oid and po.polcmd in ('r', '*') and po.polpermissive
          and (0::oid = any(po.polroles) or r::regrole::oid = any(po.polroles))
          and pg_catalog.pg_get_expr(po.polqual, po.polrelid) = 'true')
       or exists (
        select 1 from pg_catalog.pg_policy po
        where po.polrelid = t.oid and po.polcmd in ('r', '*') and not po.polpermissive)
)
group by t.name
order by t.name
"""


def realtime_delete_reveals(conn: psycopg.Connection, scope: LintScope) -> list[LintFinding]:
    found = rows(conn, _QUERY, {"publication": PUBLICATION, "roles": scope.api_roles})
    findings = []
    for name, columns, references in found:
        columns = list(dict.fromkeys(columns))
        if not references and len(columns) < 2:
            continue  # one opaque surrogate id
        refs = f" (referencing {', '.join(sorted(references))})" if references else ""
        findings.append(
            LintFinding(
                RULE,
                Severity.ERROR,
                name,
                f"{name} is in publication {PUBLICATION}: every subscriber receives each "
                f"DELETE with {', '.join(columns)}{refs}, which its row level security hides "
                "from some of them (Realtime applies no RLS to deletes)",
            )
        )
    return findings

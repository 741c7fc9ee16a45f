"""Clients of the stack's services, one module per service protocol, shared by suites and
load tests: SQL as PostgREST runs it (`postgrest_sql`), GoTrue (`gotrue`), Realtime
(`realtime`), the mail links GoTrue sends through Mailpit (`mailpit`)."""

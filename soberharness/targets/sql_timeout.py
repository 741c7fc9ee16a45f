"""The statement timeout of migrations and bootstrap files: a statement that hangs (a lock
never granted, `select pg_sleep(600)`) ends the run with one line naming the file and line.

`SOBERHARNESS_STATEMENT_TIMEOUT` (seconds, default 300) bounds each statement of a migration
or bootstrap file. It is set again after a statement that changes `statement_timeout` itself
(pg_dump's output starts with `SET statement_timeout = 0`).
"""

from __future__ import annotations

import re

from soberharness.config.env_values import env_seconds

ENV = "SOBERHARNESS_STATEMENT_TIMEOUT"
DEFAULT_S = 300.0
_SETS_TIMEOUT = re.compile(r"statement_timeout", re.IGNORECASE)
TIMED_OUT = "57014"  # query_canceled: what PostgreSQL's statement timeout raises


def statement_timeout_s() -> float:
    return env_seconds(ENV, DEFAULT_S)


def set_local_sql(seconds: float) -> bytes:
    """For inside a transaction: the timeout of the following statements."""
    return f"SET LOCAL statement_timeout = {max(1, round(seconds * 1000))}".encode()


def touches_timeout(statement: str) -> bool:
    """The statement may have changed statement_timeout (set it again after it)."""
    return bool(_SETS_TIMEOUT.search(statement))


def timeout_hint(seconds: float) -> str:
    return f"no answer within {seconds:g} s ({ENV}={seconds:g}; raise it for slow statements)"

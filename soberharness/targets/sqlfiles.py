"""Splitting SQL files into statements, so a failure names the statement that failed."""

from __future__ import annotations

import dataclasses
import re

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")


@dataclasses.dataclass(frozen=True)
class Statement:
    text: str
    line: int  # 1-based line where the statement starts


def split_statements(sql: str) -> list[Statement]:
    """Split on top-level semicolons, honouring quotes, dollar quotes and comments."""
    statements: list[Statement] = []
    start = 0
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if ch == "/" and sql.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            continue
        if ch in ("'", '"'):
            i = _skip_quoted(sql, i, ch)
            continue
        if ch == "$":
            match = _DOLLAR.match(sql, i)
            if match and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                tag = match.group(0)
                end = sql.find(tag, match.end())
                i = n if end < 0 else end + len(tag)
                continue
        if ch == ";":
            _append(statements, sql, start, i)
            start = i + 1
        i += 1
    _append(statements, sql, start, n)
    return statements


def _skip_quoted(sql: str, i: int, quote: str) -> int:
    i += 1
    while i < len(sql):
        if sql[i] == quote:
            if i + 1 < len(sql) and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return i


_LEADING = re.compile(r"(\s+|--[^\n]*\n?)*")


def _append(out: list[Statement], sql: str, start: int, end: int) -> None:
    chunk = sql[start:end]
    if not _has_code(chunk):
        return
    leading = _LEADING.match(chunk)
    skip = leading.end() if leading else 0
    line = sql.count("\n", 0, start + skip) + 1
    out.append(Statement(chunk[skip:].strip(), line))


def _has_code(chunk: str) -> bool:
    without_line_comments = re.sub(r"--[^\n]*", "", chunk)
    without_comments = re.sub(r"/\*.*?\*/", "", without_line_comments, flags=re.S)
    return bool(without_comments.strip())

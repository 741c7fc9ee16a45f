"""A failed test's text for people: what the test said, where, and nothing of Python's reprs.

pytest's report of a failure ends with its own introspection of the assertion
(`assert not [CellResult(cell=Cell(...), ...)]`, `+  where ...`) and Hypothesis adds its
"Failing test case" block, whose arguments are often printed empty (`world=,`). The test's own
message already names the cell, the minimal world or steps and what differs; the run page,
summary files and JUnit show that message, the file and line, and any repr left in it made
readable (`UUID('…')` → the id, `frozenset({…})` → `{…}`, `Cell(table='posts', …)` →
`[table posts, …]`).
"""

from __future__ import annotations

import re

MAX_LINES = 25
_INTROSPECTION = re.compile(r"^(assert |\+ |\+\s+where|\+\s+and|-\s{2}|where |and   |"
                            r"Full diff:|Use -v to get|At index \d+ diff:|Omitting \d+ identical)")
_CAUGHT = re.compile(r"^(?:[\w.]*(?:Error|Exception|Failed|Exit)): ?")
_LOCATION = re.compile(r"^([\w./-]+\.py):(\d+): (\w+)$")
_UUID = re.compile(r"UUID\('([0-9a-f-]{36})'\)")
_FROZENSET = re.compile(r"frozenset\((\{.*?\}|\(\))\)")
_ENUM = re.compile(r"<\w+\.\w+: '?([^'>]*)'?>")
_RECORD = re.compile(r"\b[A-Z]\w*\((\w+=[^()]*)\)")  # innermost: no parentheses inside
_FIELD = re.compile(r"(\w+)=('[^']*'|\"[^\"]*\"|\[[^\]]*\]|\{[^}]*\}|[^,]*)(?:, )?")


def for_people(longrepr: str, max_lines: int = MAX_LINES) -> str:
    """The readable text of pytest's failure report `longrepr`."""
    lines = longrepr.strip().splitlines()
    errors = [_e_line(line) for line in lines if line.startswith("E ") or line == "E"]
    where = [m for m in map(_LOCATION.match, (line.strip() for line in lines)) if m]
    kept = _drop_introspection(errors) if errors else [ln for ln in lines if ln.strip()]
    if errors and not kept:  # a bare assert: its expression is all there is
        kept = errors[:1]
    if where:
        kept.append(f"at {where[-1].group(1)}:{where[-1].group(2)}")
    return "\n".join(readable(line) for line in kept[-max_lines:])


def _e_line(line: str) -> str:
    return line[2:].removeprefix("      ") if len(line) > 2 else ""


def _drop_introspection(errors: list[str]) -> list[str]:
    kept: list[str] = []
    in_case = False
    for line in errors:
        text = line.strip()
        if text.startswith(("Failing test case:", "Falsifying example:")):
            in_case = True
            if text.endswith(")") and "=," not in text:
                kept.append(text)
                in_case = False
            continue
        if in_case:
            in_case = text != ")"
            if "=" in text and not text.endswith("=,") and in_case:
                kept.append(f"  example: {text.rstrip(',')}")
            continue
        if not text or _INTROSPECTION.match(text):
            continue
        kept.append(_CAUGHT.sub("", text, count=1) if not kept else line.rstrip())
    return kept


def readable(text: str) -> str:
    """`text` with Python's reprs of ids, sets and records made readable."""
    text = _UUID.sub(r"\1", text)
    text = _FROZENSET.sub(lambda m: "{}" if m.group(1) == "()" else m.group(1), text)
    text = _ENUM.sub(r"\1", text.replace("set()", "{}"))
    for _ in range(8):  # records inside records, innermost first
        text, found = _RECORD.subn(_record, text)
        if not found:
            break
    return text


def _record(match: re.Match[str]) -> str:
    fields = [f"{name} {value.strip(chr(39) + chr(34))}"
              for name, value in _FIELD.findall(match.group(1)) if name]
    return "[" + ", ".join(fields) + "]"

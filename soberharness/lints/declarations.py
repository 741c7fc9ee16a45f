"""The stack's declaration file: what it knowingly exposes and which warnings it accepts.

A warning-level finding fails the security suite unless the stack declares it here, with a
reason; an error-level finding cannot be declared. The file is TOML (`stack/declarations.toml`
for SoberTube; beside any other migrations folder as `../declarations.toml`):

    [[exposed]]            # an exposed function or view the access model cannot judge
    object = "storage.foldername(name text)"
    reason = "pure string function of its argument; reads no table"

    [[warning]]            # a warning-level lint finding, accepted
    rule = "definer_behind_invoker"
    object = "public.search_posts(query text, max_rows integer)"
    reason = "..."

An `[[exposed]]` entry accepts the `unmodelled_exposed_surface` finding of its object. Each
entry must match a finding of the run: one that matches nothing is stale and fails too, so the
file never outlives what it excuses.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

from soberharness.errors import HarnessError
from soberharness.records.results import UNMODELLED_RULE, LintFinding, Severity

FILE_NAME = "declarations.toml"


@dataclasses.dataclass(frozen=True)
class Declaration:
    rule: str
    object: str
    reason: str
    where: str  # "path: [[warning]] #2", for messages

    def matches(self, finding: LintFinding) -> bool:
        return finding.rule == self.rule and finding.object == self.object


@dataclasses.dataclass(frozen=True)
class Declarations:
    entries: tuple[Declaration, ...] = ()
    source: str = ""

    def reason_for(self, finding: LintFinding) -> str | None:
        for entry in self.entries:
            if entry.matches(finding):
                return entry.reason
        return None

    def judge(self, findings: Iterable[LintFinding]) -> list[LintFinding]:
        """The findings with `declared` filled in where an entry accepts a warning."""
        out = []
        for f in findings:
            reason = self.reason_for(f) if f.severity is Severity.WARN else None
            out.append(dataclasses.replace(f, declared=reason) if reason else f)
        return out

    def stale(self, findings: Sequence[LintFinding], rules: Iterable[str]) -> list[Declaration]:
        """Entries of `rules` (the rules that ran) that accept no warning of `findings` (an
        entry naming an error accepts nothing: errors cannot be declared)."""
        ran = set(rules)
        return [
            e for e in self.entries
            if e.rule in ran
            and not any(e.matches(f) and f.severity is Severity.WARN for f in findings)
        ]


def failing(findings: Iterable[LintFinding]) -> list[LintFinding]:
    """Findings nobody accepted. The declaration file accepts warnings only (`judge`); the
    Storage API registry (lints.storage_api_objects) also accepts the error
    `rls_enabled_no_policy` on a table it verified to be internal. An info never fails."""
    return [f for f in findings if not f.declared and f.severity is not Severity.INFO]


def default_path(migrations: Path) -> Path:
    """`declarations.toml` beside the migrations folder (stack/declarations.toml)."""
    return migrations.resolve().parent / FILE_NAME


def load_declarations(path: Path, required: bool = False) -> Declarations:
    """Read a declaration file; a missing file declares nothing unless `required`."""
    if not path.exists():
        if required:
            raise HarnessError(f"{path}: declaration file not found")
        return Declarations(source=str(path))
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HarnessError(f"{path}: not a readable TOML file: {exc}") from None
    # [[upstream_failure]] is the contract suite's (config/upstream_failures.py)
    unknown = set(data) - {"exposed", "warning", "upstream_failure"}
    if unknown:
        raise HarnessError(
            f"{path}: unknown section(s) {', '.join(sorted(unknown))}; expected [[exposed]] "
            "and [[warning]]"
        )
    entries: list[Declaration] = []
    for section, keys in (("exposed", {"object", "reason"}), ("warning", {"rule", "object",
                                                                           "reason"})):
        items = data.get(section, [])
        if not isinstance(items, list):
            raise HarnessError(f"{path}: [[{section}]] must be an array of tables")
        for i, item in enumerate(items, 1):
            where = f"{path}: [[{section}]] #{i}"
            if not isinstance(item, dict) or set(item) != keys:
                got = sorted(item) if isinstance(item, dict) else type(item).__name__
                raise HarnessError(f"{where}: needs exactly the keys {sorted(keys)}, got {got}")
            if not all(isinstance(item[k], str) and item[k].strip() for k in keys):
                raise HarnessError(f"{where}: {', '.join(sorted(keys))} must be non-empty text")
            rule = item.get("rule", UNMODELLED_RULE)
            entries.append(Declaration(rule, item["object"], item["reason"].strip(), where))
    return Declarations(tuple(entries), str(path))

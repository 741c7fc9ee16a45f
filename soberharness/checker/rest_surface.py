"""What PostgREST says it exposes (its OpenAPI description, `GET /`) against what the harness
checks (pure: no I/O).

PostgREST describes, per caller role and exposed schema, every table and view the role holds a
privilege on (`/<name>`) and every function it may execute (`/rpc/<name>`). Each path must be
covered: a table by cases of the access matrix; a view or function by the exposed-surface check
(`checker.exposed_surface`) judging what it returns. Anything else is *unmodelled exposed
surface*, the finding the exposed-surface check raises for what the model cannot judge
(`unmodelled_exposed_surface`, a warning the stack may accept in its declaration file with a
reason, under the same object label: `schema.function(args)` for a function the catalog
discovery found, `schema.name` otherwise).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from soberharness.records.results import UNMODELLED_RULE, LintFinding, Severity

RULES = (UNMODELLED_RULE,)


@dataclasses.dataclass(frozen=True)
class SurfaceEntry:
    """A function or view of the exposed-surface discovery, and whether its check judges it."""

    schema: str
    name: str
    kind: str  # "function", "view", "materialized view"
    label: str  # schema.function(identity args) or schema.view
    judged: bool


@dataclasses.dataclass(frozen=True)
class ExposedPath:
    schema: str
    path: str  # "/posts", "/rpc/search_posts"
    roles: tuple[str, ...]  # caller roles whose description lists it

    @property
    def rpc(self) -> str | None:
        return self.path[len("/rpc/"):] if self.path.startswith("/rpc/") else None

    @property
    def name(self) -> str:
        return self.rpc or self.path.strip("/")


def exposed_paths(descriptions: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[ExposedPath]:
    """Every path of every description ((role, schema) -> Swagger document), roles merged."""
    roles: dict[tuple[str, str], list[str]] = {}
    for (role, schema), doc in sorted(descriptions.items()):
        for path in (doc.get("paths") or {}):
            if path != "/":
                roles.setdefault((schema, path), []).append(role)
    return [ExposedPath(s, p, tuple(r)) for (s, p), r in sorted(roles.items())]


def _finding(obj: str, path: ExposedPath, why: str) -> LintFinding:
    return LintFinding(
        UNMODELLED_RULE, Severity.WARN, obj,
        f"PostgREST exposes {path.path} (schema {path.schema}) to {' and '.join(path.roles)} "
        f"and {why}: add matrix cases or a model judge, or declare it with a reason",
    )


def unmodelled_paths(
    descriptions: Mapping[tuple[str, str], Mapping[str, Any]],
    matrix_relations: Collection[str],
    surface: Sequence[SurfaceEntry],
) -> list[LintFinding]:
    """A finding per exposed path nothing covers (see module)."""
    out: dict[str, LintFinding] = {}
    for path in exposed_paths(descriptions):
        qualified = f"{path.schema}.{path.name}"
        kinds = ("function",) if path.rpc else ("view", "materialized view")
        known = [e for e in surface
                 if e.schema == path.schema and e.name == path.name and e.kind in kinds]
        if path.rpc is None and qualified in matrix_relations:
            continue
        if any(e.judged for e in known):
            continue
        if known:
            for entry in known:
                out.setdefault(entry.label, _finding(
                    entry.label, path, "the access model cannot judge what it returns"))
        elif path.rpc:
            out.setdefault(qualified, _finding(
                qualified, path, "the harness's catalog discovery does not know the function"))
        else:
            out.setdefault(qualified, _finding(
                qualified, path, "the access matrix has no case for it"))
    return sorted(out.values(), key=lambda f: f.object)

"""What an API contract run found, and the upstream failures a stack declares it knows of.

A `ContractFinding` is one answer that broke the contract (a 5xx, an answer outside its
schema, or a request that breaks the description answered 2xx) on one operation, with the
request that drew it. An `UpstreamFailure` is an entry of the declaration file's
`[[upstream_failure]]` section: a failure of a service's own code, with its reason, that the
run reports as declared instead of failing."""

from __future__ import annotations

import dataclasses
from typing import Any

SERVER_ERROR = "server_error"  # a 5xx answer
SCHEMA = "schema"  # an answer (or status) its description does not allow
WRONGLY_ACCEPTED = "wrongly_accepted"  # a request its description calls invalid, answered 2xx


@dataclasses.dataclass(frozen=True)
class RequestSample:
    """The parts of a request a declaration can look at, by location."""

    query: dict[str, Any] = dataclasses.field(default_factory=dict)
    path: dict[str, Any] = dataclasses.field(default_factory=dict)
    body: Any = None

    def value(self, where: str) -> tuple[bool, Any]:
        """(present, value) of 'query.x', 'path.x', 'body' or 'body.x'."""
        location, _, name = where.partition(".")
        if location == "body":
            if not name:
                return self.body is not None, self.body
            if isinstance(self.body, dict) and name in self.body:
                return True, self.body[name]
            return False, None
        part = {"query": self.query, "path": self.path}.get(location, {})
        return (name in part, part.get(name))


@dataclasses.dataclass(frozen=True)
class ContractFinding:
    service: str  # "storage", "auth", "rest", "functions"
    operation: str  # "GET /bucket/"
    status: int
    kind: str  # SERVER_ERROR | SCHEMA | WRONGLY_ACCEPTED
    request: RequestSample
    answer: str  # the answer's first characters
    replay: str  # a curl command that sends the request again (no secrets)
    declared: str | None = None  # the declaration's reason, when one matches

    @property
    def label(self) -> str:
        return f"{self.service} {self.operation} -> {self.status} ({self.kind})"


@dataclasses.dataclass(frozen=True)
class UpstreamFailure:
    """`[[upstream_failure]]`: `operation` answers `status` when one of `params` `is` (zero,
    negative, huge, contains_nul) or, with `answer_contains`, when the answer says so."""

    service: str
    operations: tuple[str, ...]  # "GET /bucket/"; a trailing * takes every path under it
    status: int
    reason: str
    where: str  # "path: [[upstream_failure]] #3", for messages
    params: tuple[str, ...] = ()
    condition: str | None = None
    answer_contains: str | None = None

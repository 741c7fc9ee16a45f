"""The `[[upstream_failure]]` declarations (config/upstream_failures.py) and their judging
(checker/contract.py): each of the stack's entries accepts the request it names and not its
neighbours; a bad entry is refused in one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from soberharness.checker.contract import distinct, failing, judge
from soberharness.config.upstream_failures import load_upstream_failures
from soberharness.errors import HarnessError
from soberharness.records.contract import SERVER_ERROR, ContractFinding, RequestSample

STACK = Path(__file__).resolve().parents[2] / "stack" / "declarations.toml"


def _finding(service: str, operation: str, status: int = 500, *, query: dict | None = None,
             body: object = None, answer: str = "") -> ContractFinding:
    return ContractFinding(service, operation, status, SERVER_ERROR,
                           RequestSample(query or {}, {}, body), answer, "replay")


DECLARED = [
    _finding("auth", "GET /admin/audit", query={"per_page": 0}),
    _finding("auth", "GET /admin/users", query={"per_page": "0"}),
    _finding("auth", "GET /admin/users", query={"page": 2**40, "per_page": 2**40}),
    _finding("auth", "POST /invite", body={"email": "a\x00@example.com"}),
    _finding("auth", "PUT /admin/users/{userId}", body={"user_metadata": {"k": "\x00"}}),
    _finding("auth", "POST /magiclink", answer='{"msg":"ERROR: duplicate key (SQLSTATE 23505)"}'),
    _finding("storage", "GET /render/image/authenticated/{bucketName}/{*}",
             query={"y_offset": -3.5}),
    _finding("storage", "GET /render/image/public/{bucketName}/{*}", query={"y_offset": "-1"}),
    _finding("storage", "GET /bucket/", query={"limit": 2**64}),
]
NOT_DECLARED = [
    _finding("auth", "GET /admin/audit", query={"per_page": 5}),  # not zero
    _finding("auth", "GET /admin/audit", 502, query={"per_page": 0}),  # another status
    _finding("auth", "POST /invite", body={"email": "a@example.com"}),  # no NUL
    _finding("auth", "POST /magiclink", answer='{"msg":"unexpected"}'),
    _finding("storage", "GET /render/image/authenticated/{bucketName}/{*}",
             query={"y_offset": 3}),
    _finding("storage", "GET /bucket/{bucketId}", query={"limit": 2**64}),  # another operation
    _finding("rest", "GET /bucket/", query={"limit": 2**64}),  # another service
]


def test_each_declared_upstream_failure_is_reported_as_declared() -> None:
    judged = judge(DECLARED, load_upstream_failures(STACK))
    assert failing(judged) == []
    assert all(f.declared for f in judged)


@pytest.mark.parametrize("finding", NOT_DECLARED, ids=lambda f: f"{f.label} {f.request}")
def test_a_neighbour_of_a_declaration_still_fails(finding: ContractFinding) -> None:
    assert failing(judge([finding], load_upstream_failures(STACK))) == [finding]


def test_distinct_keeps_one_finding_per_operation_status_and_verdict() -> None:
    judged = judge(DECLARED[:2] + DECLARED[:1] + NOT_DECLARED[:1],
                   load_upstream_failures(STACK))
    assert [(f.operation, bool(f.declared)) for f in distinct(judged)] == [
        ("GET /admin/audit", True), ("GET /admin/users", True), ("GET /admin/audit", False)]


@pytest.mark.parametrize(("entry", "says"), [
    ('service = "auth"\noperation = "GET /x"\nstatus = 500', "needs the keys"),
    ('service = "auth"\noperation = "GET /x"\nstatus = 500\nreason = "r"\nis = "odd"\n'
     'params = ["query.a"]', "is = 'odd'"),
    ('service = "auth"\noperation = "GET /x"\nstatus = 500\nreason = "r"\nis = "zero"',
     "params and is go together"),
    ('service = "auth"\noperation = "nopath"\nstatus = 500\nreason = "r"', "METHOD /path"),
    ('service = "auth"\noperation = "GET /x"\nstatus = 900\nreason = "r"', "HTTP status"),
])
def test_a_bad_entry_is_refused_naming_it(tmp_path: Path, entry: str, says: str) -> None:
    path = tmp_path / "declarations.toml"
    path.write_text(f"[[upstream_failure]]\n{entry}\n")
    with pytest.raises(HarnessError) as err:
        load_upstream_failures(path)
    assert f"{path}: [[upstream_failure]] #1" in str(err.value)
    assert says in str(err.value)

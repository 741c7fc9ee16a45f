"""Running schemathesis against one service's own OpenAPI description, safely and bounded.

Safe: only read operations (GET, HEAD) are generated unless the plan carries a WriteScope (a
target that opted in to destructive work: a run with the service key may not touch the shared
world's buckets or users); then writes run only with every path parameter pinned to the run's
own resources (its bucket, its user), and none that names no resource in its path (PostgREST's
writes filter by query: never run). Operations that make the service fetch a URL it is given
(GoTrue's SSO/SAML providers, `metadata_url`) are excluded.
Each operation gets a few requests, valid ones and ones its description calls invalid (a
service should refuse those with a 4xx, never a 5xx), and each of its numeric query parameters
is sent at the edges (BOUNDARIES: zero, negative, past 64 bits) once. Bounded: a few examples
per operation, a timeout on every request, and a total time cap after
which the remaining operations are listed as not run. What it finds are records (5xx answers,
answers outside their schema, requests the description calls invalid answered 2xx: "wrongly
accepted"); judging them against the declarations is the checker's."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
)

from soberharness.errors import HarnessError
from soberharness.records.contract import (
    SCHEMA,
    SERVER_ERROR,
    WRONGLY_ACCEPTED,
    ContractFinding,
    RequestSample,
)

READ_METHODS = frozenset({"GET", "HEAD"})
# Paths of operations that make the service fetch a URL from the request (GoTrue's SSO/SAML
# providers' metadata_url): a fuzzed URL sends the service out to the network.
FETCHES_URL = ("/sso", "/saml")
ANSWER_CHARS = 300
SPEC_TIMEOUT_S = 10.0
NUMERIC = frozenset({"integer", "number"})
BOUNDARIES = (0, -1, 2**64)
PATH_PARAM = re.compile(r"\{([^}]+)\}")
# What a failed check raises: one failure, or a group of them (a BaseExceptionGroup, which
# `except Exception` does not catch).
CHECK_FAILURES = (Exception, FailureGroup)


@dataclasses.dataclass(frozen=True)
class ContractPlan:
    service: str
    base_url: str
    headers: Mapping[str, str]
    max_examples: int = 8  # per operation, valid and invalid requests together
    request_timeout_s: float = 5.0
    total_s: float = 240.0
    # Operations run although they are no GET/HEAD: ones the caller knows read only
    # ("POST /export-my-data").
    also_run: frozenset[str] = frozenset()
    # Writes, on a target that opted in to destructive work only: None runs none.
    writes: WriteScope | None = None


@dataclasses.dataclass(frozen=True)
class WriteScope:
    """The run's own resources writes are pinned to: path parameter name -> its own value (the
    run's bucket, the run's user). A write runs only when every path parameter it has is
    pinned; one that names no resource in its path (it creates, or acts on what its body
    names) could reach the shared world and is not run."""

    path: Mapping[str, str]


@dataclasses.dataclass
class ContractRun:
    findings: list[ContractFinding] = dataclasses.field(default_factory=list)
    operations_run: list[str] = dataclasses.field(default_factory=list)
    excluded: dict[str, str] = dataclasses.field(default_factory=dict)  # operation -> why
    requests: int = 0


def schema_from_url(url: str, headers: Mapping[str, str]) -> schemathesis.BaseSchema:
    """The description a service serves (Storage API /documentation/json, PostgREST /)."""
    try:
        answer = httpx.get(url, headers=dict(headers), timeout=SPEC_TIMEOUT_S)
        answer.raise_for_status()
        return schemathesis.openapi.from_dict(answer.json())
    except (httpx.HTTPError, ValueError) as exc:
        raise HarnessError(f"{url}: no OpenAPI description: {exc}") from None


def schema_from_file(path: Path) -> schemathesis.BaseSchema:
    """A description shipped beside the service (GoTrue's openapi.yaml)."""
    if not path.is_file():
        raise HarnessError(f"{path}: OpenAPI file not found")
    try:
        return schemathesis.openapi.from_path(str(path))
    except Exception as exc:  # any loader error is a bad file, said in one line
        raise HarnessError(f"{path}: not an OpenAPI description: {exc}") from None


def why_excluded(method: str, path: str, also_run: frozenset[str] = frozenset(),
                 writes: WriteScope | None = None) -> str | None:
    if any(part in path for part in FETCHES_URL):
        return "makes the service fetch a URL"
    if method.upper() in READ_METHODS or f"{method.upper()} {path}" in also_run:
        return None
    if writes is None:
        return "writes are not run by the contract suite (destructive work not opted in)"
    params = PATH_PARAM.findall(path)
    if not params:
        return "writes only on the run's own resources: this one names none in its path"
    unpinned = [p for p in params if p not in writes.path]
    if unpinned:
        return f"writes only on the run's own resources: {', '.join(unpinned)} is not pinned"
    return None


def _sample(case: schemathesis.Case) -> RequestSample:
    body = case.body if isinstance(case.body, dict | list | str | int | float) else None
    return RequestSample(dict(case.query or {}), dict(case.path_parameters or {}), body)


def _replay(case: schemathesis.Case, base_url: str) -> str:
    try:
        return case.as_curl_command(base_url=base_url)
    except Exception:  # the replay is a convenience
        return f"{case.method} {case.formatted_path}"


def _finding(plan: ContractPlan, case: schemathesis.Case, replay: str, status: int,
             kind: str, answer: str) -> ContractFinding:
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    return ContractFinding(plan.service, operation, status, kind, _sample(case),
                           answer[:ANSWER_CHARS], replay)


def _examine(plan: ContractPlan, case: schemathesis.Case, run: ContractRun) -> None:
    replay = _replay(case, plan.base_url)  # before the call adds the keys to the case
    try:
        response = case.call(base_url=plan.base_url, headers=dict(plan.headers),
                             timeout=plan.request_timeout_s)
    except Exception as exc:  # a refused/timed-out request is a finding too
        run.findings.append(_finding(plan, case, replay, 0, SERVER_ERROR, f"no answer: {exc}"))
        return
    run.requests += 1
    status = response.status_code
    if status >= 500:
        run.findings.append(_finding(plan, case, replay, status, SERVER_ERROR, response.text))
        return
    try:
        case.validate_response(response, checks=[response_schema_conformance])
    except CHECK_FAILURES as exc:
        detail = " | ".join(str(exc).splitlines()[:6])
        run.findings.append(_finding(plan, case, replay, status, SCHEMA, detail))
    if 200 <= status < 300 and _negative(case):
        try:  # schemathesis' own check leaves out requests that serialise into valid ones
            case.validate_response(response, checks=[negative_data_rejection])
        except CHECK_FAILURES as exc:
            detail = " | ".join(str(exc).splitlines()[:6])
            run.findings.append(_finding(plan, case, replay, status, WRONGLY_ACCEPTED, detail))


# Locations whose negated values the run overrides (it sends its own apikey/authorization
# headers): a request negative only there is a valid one by the time it is sent.
OVERRIDDEN = frozenset({"header", "cookie"})


def _negative(case: schemathesis.Case) -> bool:
    """Whether the request breaks its description somewhere the run does not override."""
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_negative:
        return False
    return any(info.mode.is_negative and str(getattr(loc, "value", loc)) not in OVERRIDDEN
               for loc, info in meta.components.items())


def _numeric_query(operation: Any) -> list[str]:
    """Names of the operation's integer/number query parameters (OpenAPI 3 and Swagger 2)."""
    names = []
    for parameter in operation.query:
        definition = parameter.definition
        kind = definition.get("schema", definition).get("type")
        if kind in NUMERIC:
            names.append(parameter.name)
    return names


def _run_examples(strategy: st.SearchStrategy[Any], examples: int, plan: ContractPlan,
                  run: ContractRun, deadline: float) -> None:
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), derandomize=True)
    @given(case=strategy)
    def examine(case: schemathesis.Case) -> None:
        if time.monotonic() <= deadline:
            _examine(plan, case, run)

    examine()


def _pins(operation: Any, plan: ContractPlan) -> dict[str, Any]:
    """Path parameters pinned to the run's own resources (writes only)."""
    if plan.writes is None or operation.method.upper() in READ_METHODS:
        return {}
    return {p: plan.writes.path[p] for p in PATH_PARAM.findall(operation.path)}


def _run_operation(operation: Any, plan: ContractPlan, run: ContractRun,
                   deadline: float) -> None:
    pins = {"path_parameters": p} if (p := _pins(operation, plan)) else {}
    _run_examples(st.one_of(operation.as_strategy(GenerationMode.POSITIVE, **pins),
                            operation.as_strategy(GenerationMode.NEGATIVE, **pins)),
                  plan.max_examples, plan, run, deadline)
    for name in _numeric_query(operation):
        for value in BOUNDARIES:
            strategy = operation.as_strategy(GenerationMode.POSITIVE, query={name: value},
                                             **pins)
            _run_examples(strategy, 1, plan, run, deadline)


def run_contract(schema: schemathesis.BaseSchema, plan: ContractPlan) -> ContractRun:
    run = ContractRun()
    deadline = time.monotonic() + plan.total_s
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        why = why_excluded(operation.method, operation.path, plan.also_run, plan.writes)
        if why is None and time.monotonic() > deadline:
            why = f"not run: the total cap of {plan.total_s:.0f} s was reached"
        if why is not None:
            run.excluded[label] = why
            continue
        try:
            _run_operation(operation, plan, run, deadline)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # an operation that cannot be generated
            run.excluded[label] = f"not generated: {' '.join(str(exc).split())[:200]}"
            continue
        run.operations_run.append(label)
    return run


def describe(run: ContractRun, findings: list[ContractFinding]) -> dict[str, Any]:
    """The run as a report note: counts, each distinct finding, what was left out."""
    return {
        "operations run": run.operations_run,
        "requests": run.requests,
        "failing": [f"{f.label}: {f.replay}" for f in findings if f.declared is None],
        "declared": [f"{f.label}: {f.declared}" for f in findings if f.declared is not None],
        "excluded": [f"{op}: {why}" for op, why in sorted(run.excluded.items())],
    }

"""schemathesis against each service of the target that describes itself: the Storage API (its
GET /documentation/json), PostgREST (its GET /), GoTrue (from the OpenAPI file the target names
in its settings as GOTRUE_OPENAPI_SPEC: GoTrue serves none). Read operations only, a few
examples each, a timeout per request and a total cap (soberharness/runner/contract.py). A 5xx
or an answer outside its schema fails, unless stack/declarations.toml declares it as a known
upstream failure ([[upstream_failure]]): then it is reported as declared, with its reason.

On a target that opted in to destructive work (and only there: the test is `destructive`),
the write operations run too, on a bucket and a user of the run's own (made before, removed
after; soberharness/runner/contract_scope.py), never on what the run did not make: writes that
name no resource in their path are left out, and the shared world's buckets/users are listed
before and after (with what a write could change in each) and must not have changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis

from soberharness.checker.contract import distinct, failing, judge, world_changes
from soberharness.config.upstream_failures import load_upstream_failures
from soberharness.paths import REPO
from soberharness.report.run_report import RunReport
from soberharness.runner.contract import (
    READ_METHODS,
    ContractPlan,
    describe,
    run_contract,
    schema_from_file,
    schema_from_url,
)
from soberharness.runner.contract_scope import own_resources
from soberharness.targets.base import Service, Target

DECLARATIONS = REPO / "stack" / "declarations.toml"
SPEC_SETTING = "GOTRUE_OPENAPI_SPEC"
TOTAL_ENV = "SOBERHARNESS_CONTRACT_TOTAL_S"  # the per-service time cap, seconds


def _headers(target: Target) -> dict[str, str]:
    key = target.keys.service_key or ""
    return {"apikey": key, "authorization": f"Bearer {key}"} if key else {}


def _schema(service: Service, target: Target) -> schemathesis.BaseSchema:
    base = target.url(service)
    if service is Service.STORAGE:
        return schema_from_url(f"{base}/documentation/json", _headers(target))
    if service is Service.REST:
        return schema_from_url(f"{base}/", _headers(target))
    spec = target.settings.get(SPEC_SETTING)
    if not spec:
        pytest.skip(f"auth: {target.settings_source} names no {SPEC_SETTING} (GoTrue serves no "
                    "OpenAPI description; give the path of its openapi.yaml)")
    return schema_from_file(Path(spec).expanduser())


@pytest.mark.parametrize("service", [
    pytest.param(Service.STORAGE, marks=pytest.mark.needs("storage"), id="storage"),
    pytest.param(Service.AUTH, marks=pytest.mark.needs("auth"), id="auth"),
    pytest.param(Service.REST, marks=pytest.mark.needs("rest"), id="rest"),
])
def test_service_answers_within_its_description(service: Service, target: Target,
                                                run_report: RunReport) -> None:
    schema = _schema(service, target)
    plan = ContractPlan(service.value, target.url(service), _headers(target),
                        total_s=float(os.environ.get(TOTAL_ENV, "240")))
    run = run_contract(schema, plan)
    findings = distinct(judge(run.findings, load_upstream_failures(DECLARATIONS)))
    run_report.notes[f"API contract: {service.value}"] = describe(run, findings)
    assert run.operations_run, f"{service.value}: no operation ran: {run.excluded}"
    bad = failing(findings)
    assert not bad, "\n".join(f"{f.label}: {f.answer[:160]}\n  replay: {f.replay}" for f in bad)


@pytest.mark.destructive
@pytest.mark.parametrize("service", [
    pytest.param(Service.STORAGE, marks=pytest.mark.needs("storage"), id="storage"),
    pytest.param(Service.AUTH, marks=pytest.mark.needs("auth"), id="auth"),
])
def test_writes_touch_only_the_runs_own_resources(service: Service, target: Target,
                                                  run_report: RunReport) -> None:
    schema = _schema(service, target)
    base = target.url(service)
    with own_resources(service.value, base, _headers(target), run_report.run_id) as own:
        plan = ContractPlan(service.value, base, _headers(target), writes=own.scope,
                            total_s=float(os.environ.get(TOTAL_ENV, "240")))
        run = run_contract(schema, plan)
    findings = distinct(judge(run.findings, load_upstream_failures(DECLARATIONS)))
    note = describe(run, findings)
    changes = world_changes(own.world_before, own.world_after)
    note["world untouched"] = not changes
    note["world changes"] = changes
    note["own resources left"] = own.left
    run_report.notes[f"API contract writes: {service.value}"] = note
    writes = [op for op in run.operations_run if op.split()[0] not in READ_METHODS]
    assert writes, f"{service.value}: no write ran on the run's own resources: {run.excluded}"
    assert not changes, f"the shared world changed: {'; '.join(changes)}"
    assert own.left == [], f"the run's own {service.value} resource was not removed"
    bad = failing(findings)
    assert not bad, "\n".join(f"{f.label}: {f.answer[:160]}\n  replay: {f.replay}" for f in bad)

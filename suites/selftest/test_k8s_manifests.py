"""The Kubernetes manifests (stack/k8s/): valid for the Kubernetes schemas, the deployment rules
hold for every container, and they agree with the compose file and the env templates.

Every check is shown to fail on a planted violation in a copy of the rendered manifests (or of
the stack's files), reporting exactly that violation.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from soberharness.config.envcheck import COMPOSE_FILE
from soberharness.config.k8scheck import (
    CLOUDS,
    OVERLAYS,
    agreement_problems,
    gateway_problems,
    policy_edges,
    render,
    rule_problems,
    schema_problems,
    workloads,
)
from soberharness.targets.services.tools import find_tool, missing_reason

Docs = list[dict[str, Any]]
STACK = COMPOSE_FILE.parents[1]


@pytest.fixture(scope="module")
def aws() -> Docs:
    return render(OVERLAYS / "aws")


@pytest.mark.parametrize("cloud", CLOUDS)
def test_each_overlay_validates_and_keeps_the_rules(cloud: str) -> None:
    docs = render(OVERLAYS / cloud)
    kinds = [d["kind"] for d in docs]
    for kind in ("StatefulSet", "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler",
                 "PodDisruptionBudget", "NetworkPolicy", "Secret", "ConfigMap", "StorageClass"):
        assert kind in kinds, kind
    assert schema_problems(docs) == []
    assert rule_problems(docs) == []
    assert agreement_problems(docs) == []


def test_overlays_differ_where_clouds_differ() -> None:
    def cloud_parts(cloud: str) -> tuple[str, str, str]:
        docs = render(OVERLAYS / cloud)
        storage = next(d for d in docs if d["kind"] == "StorageClass")
        ingress = next(d for d in docs if d["kind"] == "Ingress")
        return (storage["provisioner"], ingress["spec"]["ingressClassName"],
                ",".join(sorted(ingress["metadata"].get("annotations") or {})))

    parts = [cloud_parts(cloud) for cloud in CLOUDS]
    for i in range(3):
        assert len({p[i] for p in parts}) == len(CLOUDS), parts


def test_gateway_configuration_agrees_with_compose() -> None:
    assert gateway_problems() == []


def test_network_policies_allow_exactly_the_compose_edges(aws: Docs) -> None:
    egress, ingress, other = policy_edges(aws)
    assert other == []
    assert egress == ingress
    # A few edges written out by hand from the compose file.
    assert {("storage", "minio", 9000), ("auth", "mail", 1025), ("gateway", "realtime", 4000),
            ("functions", "redis", 6379), ("migrate", "db", 5432), ("auth", "gateway", 8000),
            ("postgres-exporter", "db", 5432), ("gateway-exporter", "gateway", 8080)} <= egress
    # Inside the cluster only the functions (SUPABASE_URL), GoTrue (its mail templates) and the
    # gateway's exporter (its stub_status page, on 8080 only) call the gateway.
    assert {(client, port) for client, server, port in egress if server == "gateway"} == {
        ("auth", 8000), ("functions", 8000), ("gateway-exporter", 8080)}


def test_every_compose_mount_source_exists() -> None:
    import yaml

    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    sources = [str(v).split(":")[0] for s in compose["services"].values()
               for v in s.get("volumes") or []]
    relative = [s for s in sources if s.startswith(".")]
    assert "../functions" in relative
    for source in relative:
        assert (COMPOSE_FILE.parent / source).exists(), source


# ---------------------------------------------------------------- planted violations


def _container(docs: Docs, name: str) -> dict[str, Any]:
    return workloads(docs)[name]["spec"]["template"]["spec"]["containers"][0]


def _policy(docs: Docs, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == name)


def _drop_readiness(docs: Docs) -> None:
    del _container(docs, "rest")["readinessProbe"]


def _root_pod(docs: Docs) -> None:
    workloads(docs)["auth"]["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0


def _no_limits(docs: Docs) -> None:
    del _container(docs, "storage")["resources"]["limits"]


def _no_hpa(docs: Docs) -> None:
    docs[:] = [d for d in docs if not (d["kind"] == "HorizontalPodAutoscaler"
                                       and d["metadata"]["name"] == "gateway")]


def _escalation(docs: Docs) -> None:
    _container(docs, "imgproxy")["securityContext"]["allowPrivilegeEscalation"] = True


def _no_pdb(docs: Docs) -> None:
    docs[:] = [d for d in docs if not (d["kind"] == "PodDisruptionBudget"
                                       and d["metadata"]["name"] == "redis")]


def _latest(docs: Docs) -> None:
    _container(docs, "mail")["image"] = "axllent/mailpit:latest"


RULES: dict[str, tuple[Callable[[Docs], None], str]] = {
    "readiness": (_drop_readiness, "Deployment/rest container rest: no readinessProbe"),
    "root": (_root_pod, "Deployment/auth: pod securityContext must set runAsNonRoot: true and "
                        "a non-zero runAsUser"),
    "limits": (_no_limits, "Deployment/storage container storage: no limits for cpu, memory"),
    "hpa": (_no_hpa, "Deployment/gateway: stateless but no HorizontalPodAutoscaler"),
    "escalation": (_escalation, "Deployment/imgproxy container imgproxy: "
                                "allowPrivilegeEscalation must be false"),
    "pdb": (_no_pdb, "StatefulSet/redis: no PodDisruptionBudget"),
    "latest": (_latest, "Deployment/mail container mail: image 'axllent/mailpit:latest' has no "
                        "pinned tag"),
}


@pytest.mark.parametrize("violation", sorted(RULES))
def test_a_planted_rule_violation_is_reported(aws: Docs, violation: str) -> None:
    plant, expected = RULES[violation]
    docs = copy.deepcopy(aws)
    plant(docs)
    assert rule_problems(docs) == [expected]


def test_a_planted_schema_violation_is_reported(aws: Docs) -> None:
    docs = copy.deepcopy(aws)
    _container(docs, "auth")["livenessProbe"]["httpGet"]["portt"] = 9999
    assert schema_problems(docs) == [
        "Deployment/auth: schema: spec/template/spec/containers/0/livenessProbe/httpGet: "
        "Additional properties are not allowed ('portt' was unexpected)"]


def test_a_network_policy_edge_the_compose_file_lacks_is_reported(aws: Docs) -> None:
    docs = copy.deepcopy(aws)
    _policy(docs, "allow-gateway")["spec"]["egress"].append(
        {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "db"}}}],
         "ports": [{"protocol": "TCP", "port": 5432}]})
    assert agreement_problems(docs) == [
        "NetworkPolicy allows gateway -> db:5432 out, not a compose edge"]


def test_a_missing_compose_edge_is_reported(aws: Docs) -> None:
    docs = copy.deepcopy(aws)
    policy = _policy(docs, "allow-imgproxy")["spec"]
    policy["ingress"] = [r for r in policy["ingress"]
                         if r["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                         != "storage"]
    assert agreement_problems(docs) == [
        "NetworkPolicy blocks compose edge storage -> imgproxy:5001 (no ingress rule)"]


def test_an_environment_variable_out_of_step_with_compose_is_reported(aws: Docs) -> None:
    docs = copy.deepcopy(aws)
    env = _container(docs, "auth")["env"]
    next(e for e in env if e["name"] == "GOTRUE_JWT_EXP")["value"] = "$(JWT_EXPIRES)"
    assert agreement_problems(docs) == [
        "Deployment/auth: GOTRUE_JWT_EXP is '$(JWT_EXPIRES)', compose has '$(JWT_EXPIRY)'",
        "Deployment/auth: $(JWT_EXPIRES) is used but not defined"]


def test_an_image_out_of_step_with_compose_is_reported(aws: Docs) -> None:
    docs = copy.deepcopy(aws)
    _container(docs, "rest")["image"] = "postgrest/postgrest:v12.2.3"
    assert agreement_problems(docs) == [
        "Deployment/rest: image 'postgrest/postgrest:v12.2.3', compose has "
        "'postgrest/postgrest:v14.17'"]


def test_a_template_variable_missing_from_the_manifests_is_reported(aws: Docs) -> None:
    docs = copy.deepcopy(aws)
    config = next(d for d in docs if d["kind"] == "ConfigMap"
                  and d["metadata"]["name"] == "sobertube-env")
    del config["data"]["SITE_URL"]
    problems = agreement_problems(docs)
    assert "SITE_URL: in the local template, in neither sobertube-env nor sobertube-secrets" \
        in problems
    assert all("SITE_URL" in p for p in problems), problems


def _migrations_volume(docs: Docs) -> dict[str, Any]:
    pod = workloads(docs)["migrate"]["spec"]["template"]["spec"]
    return next(v for v in pod["volumes"] if v["name"] == "migrations")


def test_a_migration_the_migrate_job_does_not_mount_is_reported(aws: Docs) -> None:
    """The compose file mounts the whole migrations folder; the Job mounts the ConfigMap's keys
    one by one (0010-0015 were once left out: Kubernetes never applied them)."""
    docs = copy.deepcopy(aws)
    volume = _migrations_volume(docs)["configMap"]
    volume["items"] = [i for i in volume["items"] if i["key"] != "0016_kpi_views.up.sql"]
    assert agreement_problems(docs) == [
        "migration 0016_kpi_views/up.sql: no Job mounts it at 0016_kpi_views/up.sql"]


def test_a_migration_missing_from_its_config_map_is_reported(aws: Docs) -> None:
    docs = copy.deepcopy(aws)
    config = next(d for d in docs if d["kind"] == "ConfigMap"
                  and d["metadata"]["name"] == "sobertube-migrations")
    del config["data"]["0015_object_folder_exact_id.down.sql"]
    assert agreement_problems(docs) == [
        "migration 0015_object_folder_exact_id/down.sql: not in ConfigMap sobertube-migrations "
        "(key 0015_object_folder_exact_id.down.sql)"]


def test_a_compose_mount_of_a_missing_folder_is_reported(tmp_path: Path, aws: Docs) -> None:
    stack = tmp_path / "stack"
    shutil.copytree(STACK, stack, ignore=shutil.ignore_patterns("k8s"))
    shutil.rmtree(stack / "functions")
    problems = agreement_problems(aws, compose_file=stack / "compose" / "docker-compose.yml")
    assert problems == ["compose mount ../functions: does not exist (relative to compose/)"]


def test_a_missing_generator_file_is_one_line(tmp_path: Path) -> None:
    from soberharness.errors import HarnessError

    base = tmp_path / "base"
    shutil.copytree(OVERLAYS.parent / "base", base)
    (base / "gateway" / "default.conf.template").unlink()
    with pytest.raises(HarnessError, match=r"configMapGenerator sobertube-gateway: "
                                           r"gateway/default.conf.template does not exist"):
        render(base=base)


def test_the_main_function_answers(tmp_path: Path) -> None:
    deno = find_tool("deno")
    if deno is None:
        pytest.skip(missing_reason("deno"))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(deno), "run", "--no-prompt", "--allow-net=127.0.0.1", "--allow-env",
         f"--allow-read={STACK / 'functions'}", str(STACK / "functions" / "main" / "index.ts")],
        env={**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "NO_COLOR": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                root = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, \
                    proc.stdout.read().decode() if proc.stdout and proc.poll() is not None else ""
                time.sleep(0.2)
        missing = httpx.get(f"http://127.0.0.1:{port}/no-such-function", timeout=2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # The functions the manifests mount: every folder of stack/functions holding an index.ts,
    # but the main service itself and the shared modules.
    mounted = sorted(p.parent.name for p in (STACK / "functions").glob("*/index.ts")
                     if p.parent.name not in ("main", "_shared"))
    assert mounted, "stack/functions holds no function"
    assert root.status_code == 200 and root.json() == {"service": "main", "functions": mounted}
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "function_not_found"


def test_a_sidecar_missing_from_its_pod_is_reported(aws: Docs) -> None:
    """gateway-requests shares the gateway's network in compose (network_mode
    service:gateway): on Kubernetes it is a container of the gateway pod, with its arguments."""
    docs = copy.deepcopy(aws)
    pod = workloads(docs)["gateway"]["spec"]["template"]["spec"]
    sidecar = next(c for c in pod["containers"] if c["name"] == "gateway-requests")
    sidecar["args"] = [a for a in sidecar["args"] if a != "-logtostderr"]
    assert agreement_problems(docs) == [
        "Deployment/gateway: args differ from the compose command"]
    pod["containers"] = [c for c in pod["containers"] if c["name"] != "gateway-requests"]
    assert agreement_problems(docs) == [
        "Deployment/gateway: no container gateway-requests (compose service gateway-requests "
        "shares gateway's network)"]

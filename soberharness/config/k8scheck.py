"""Check the Kubernetes manifests (stack/k8s/) offline: schemas, rules, agreement with compose.

`render(overlay)` assembles what `kubectl kustomize` would (the base's resources, its
ConfigMaps made from the files its configMapGenerator names, the overlay's resources, the
namespace), without hash suffixes, so the checks need no cluster and no kustomize binary:

- `schema_problems`: every resource against the Kubernetes OpenAPI schemas that
  kubernetes-validate ships (strict: unknown fields are errors);
- `rule_problems`: every container has resource requests and limits, no privilege escalation,
  all capabilities dropped, a pinned image at no version known to be unfit
  (`known_bad_pins`), a verified TLS connection to PostgreSQL (`dbtls`); every long-running
  one liveness and readiness probes; every pod runs as non-root; every workload has a
  Service, a PodDisruptionBudget and a NetworkPolicy, the stateless ones an HPA; a
  default-deny NetworkPolicy exists; the database is a StatefulSet;
- `agreement_problems`: the same services and images as stack/compose/docker-compose.yml, the
  same environment variables (values with `${X}` written `$(X)`), ConfigMap and Secret keys
  that are the env templates' names, the ports the compose edges use, the compose file's mount
  targets, files that exist, and NetworkPolicies allowing exactly the compose file's edges;
  every step of stack/migrations in the migrate Job's ConfigMap, mounted where
  apply-migrations.sh looks (`migration_problems`).
`python -m soberharness.config.k8scheck [OVERLAY...]` prints one line per problem, or `ok`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from soberharness.config.cli import report_problems
from soberharness.config.composecheck import load_compose
from soberharness.config.dbtls import container_problems
from soberharness.config.envcheck import COMPOSE_FILE, SECRET_KEYS, TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.config.known_bad_pins import pin_problems
from soberharness.errors import HarnessError

K8S = COMPOSE_FILE.parents[1] / "k8s"
BASE = K8S / "base"
OVERLAYS = K8S / "overlays"
CLOUDS = ("aws", "gcp", "azure", "onprem")
NAMESPACE = "sobertube"
KUBERNETES_VERSION = "1.31.0"
NAME_LABEL = "app.kubernetes.io/name"
WORKLOADS = ("Deployment", "StatefulSet", "Job")
LONG_RUNNING = ("Deployment", "StatefulSet")
# Compose services whose state lives in a volume: StatefulSets. The rest scale out (HPA),
# except realtime (clustered Erlang: one node per tenant here) and the mail sink.
STATEFUL = frozenset({"db", "minio", "redis"})
STATELESS = frozenset({"gateway", "auth", "rest", "storage", "imgproxy", "functions"})
CONFIG_MAP = "sobertube-env"
SECRET = "sobertube-secrets"
DNS_PORT = 53
# The gateway's k8s configuration is the compose one with this block replaced.
_UPSTREAM = re.compile(r"^\s*set \$\w+_upstream ([a-z0-9.-]+):(\d+);", re.M)
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HOST_PORT = re.compile(r"(?:^|//|@)([a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*):(\d+)")


def _load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise HarnessError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise HarnessError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    return [d for d in docs if d]


def render(overlay: Path | None = None, base: Path = BASE) -> list[dict[str, Any]]:
    """The resources of `base` (+ `overlay`), as kustomize would build them (no hashes)."""
    docs: list[dict[str, Any]] = []
    for folder in [base] + ([overlay] if overlay is not None else []):
        kustomization = _load_yaml_docs(folder / "kustomization.yaml")[0]
        for entry in kustomization.get("resources") or []:
            path = (folder / entry).resolve()
            if path.is_dir():
                continue  # the base, rendered above
            docs += _load_yaml_docs(path)
        for generator in kustomization.get("configMapGenerator") or []:
            data = {}
            for spec in generator.get("files") or []:
                key, _, source = str(spec).partition("=")
                file = folder / (source or key)
                if not file.is_file():
                    raise HarnessError(f"{folder / 'kustomization.yaml'}: configMapGenerator "
                                       f"{generator['name']}: {source or key} does not exist")
                data[Path(key).name] = file.read_text(encoding="utf-8")
            docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": generator["name"]}, "data": data})
        namespace = kustomization.get("namespace")
        if namespace:
            for doc in docs:
                if doc.get("kind") not in ("Namespace", "StorageClass", "IngressClass"):
                    doc.setdefault("metadata", {})["namespace"] = namespace
    return docs


def _id(doc: Mapping[str, Any]) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


_validated: dict[tuple[str, str], str | None] = {}  # (version, document) -> problem or None


def schema_problems(docs: Iterable[Mapping[str, Any]],
                    version: str = KUBERNETES_VERSION) -> list[str]:
    """Each resource against the schemas (strict); a resource seen before is not redone (the
    overlays share the base, and validating one takes tens of milliseconds)."""
    import kubernetes_validate

    problems = []
    for doc in docs:
        key = (version, json.dumps(doc, sort_keys=True))
        if key not in _validated:
            problem = None
            try:
                kubernetes_validate.validate(dict(doc), version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = "/".join(str(p) for p in exc.path) or "(top)"
                problem = f"{_id(doc)}: schema: {where}: {exc.message}"
            except (kubernetes_validate.SchemaNotFoundError,
                    kubernetes_validate.InvalidSchemaError) as exc:
                problem = f"{_id(doc)}: schema: {exc}"
            _validated[key] = problem
        if _validated[key] is not None:
            problems.append(str(_validated[key]))
    return problems


def _pod(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}


def workloads(docs: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") in WORKLOADS}


def _by_kind(docs: Iterable[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> bool:
    match = (selector or {}).get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in match.items())


def rule_problems(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    problems: list[str] = []
    pdbs = _by_kind(docs, "PodDisruptionBudget")
    hpas = {(h["spec"]["scaleTargetRef"]["kind"], h["spec"]["scaleTargetRef"]["name"])
            for h in _by_kind(docs, "HorizontalPodAutoscaler")}
    services = _by_kind(docs, "Service")
    policies = _by_kind(docs, "NetworkPolicy")
    if not any(p["spec"].get("podSelector") in ({}, None)
               and {"Ingress", "Egress"} <= set(p["spec"].get("policyTypes") or [])
               and not p["spec"].get("ingress") and not p["spec"].get("egress")
               for p in policies):
        problems.append("NetworkPolicy: no default-deny policy (podSelector {}, Ingress and "
                        "Egress, no rules)")
    for name, doc in workloads(docs).items():
        where = _id(doc)
        kind = doc["kind"]
        pod = _pod(doc)
        labels = ((doc["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        pod_security = pod.get("securityContext") or {}
        if pod_security.get("runAsNonRoot") is not True or pod_security.get("runAsUser") in (0,
                                                                                            None):
            problems.append(f"{where}: pod securityContext must set runAsNonRoot: true and a "
                            "non-zero runAsUser")
        for container in [*pod.get("containers", []), *pod.get("initContainers", [])]:
            cwhere = f"{where} container {container.get('name')}"
            resources = container.get("resources") or {}
            for part in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(resources.get(part) or {})
                if missing:
                    problems.append(f"{cwhere}: no {part} for {', '.join(sorted(missing))}")
            security = container.get("securityContext") or {}
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cwhere}: allowPrivilegeEscalation must be false")
            if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{cwhere}: capabilities must drop ALL")
            if security.get("runAsUser") == 0 or security.get("runAsNonRoot") is False:
                problems.append(f"{cwhere}: runs as root")
            if security.get("privileged"):
                problems.append(f"{cwhere}: privileged")
            image = str(container.get("image", ""))
            tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
            if not tag or tag == "latest":
                problems.append(f"{cwhere}: image {image!r} has no pinned tag")
            problems += pin_problems({cwhere: image})
            problems += container_problems(cwhere, container)
            if kind in LONG_RUNNING:
                for probe in ("livenessProbe", "readinessProbe"):
                    if not container.get(probe):
                        problems.append(f"{cwhere}: no {probe}")
        if kind in LONG_RUNNING:
            if not any(_selects(p["spec"].get("selector"), labels) for p in pdbs):
                problems.append(f"{where}: no PodDisruptionBudget")
            if not any(_selects({"matchLabels": s["spec"].get("selector") or {}}, labels)
                       for s in services):
                problems.append(f"{where}: no Service")
            if name in STATELESS and (kind, name) not in hpas:
                problems.append(f"{where}: stateless but no HorizontalPodAutoscaler")
            if name in STATEFUL and kind != "StatefulSet":
                problems.append(f"{where}: holds state, must be a StatefulSet")
        if not any(p["spec"].get("podSelector") and _selects(p["spec"]["podSelector"], labels)
                   for p in policies):
            problems.append(f"{where}: no NetworkPolicy selects its pods")
    return problems


# ------------------------------------------------------------------------ agreement


def _interpolate(text: str, env: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: env.get(m.group(1), m.group(0)), text)


def compose_sidecars(compose: Mapping[str, Any]) -> dict[str, str]:
    """Compose service in another's network namespace (`network_mode: service:<other>`) ->
    the other: on Kubernetes a container of the other's pod, named as the service."""
    found = {}
    for name, service in compose["services"].items():
        mode = str(service.get("network_mode", ""))
        if mode.startswith("service:"):
            found[name] = mode.split(":", 1)[1]
    return found


def compose_aliases(compose: Mapping[str, Any]) -> dict[str, str]:
    """Network alias -> compose service (e.g. realtime-dev.supabase-realtime -> realtime)."""
    aliases = {}
    for name, service in compose["services"].items():
        networks = service.get("networks") or {}
        if isinstance(networks, Mapping):
            for spec in networks.values():
                for alias in (spec or {}).get("aliases") or []:
                    aliases[str(alias)] = name
    return aliases


def compose_edges(compose: Mapping[str, Any], env: Mapping[str, str],
                  gateway_template: Path) -> set[tuple[str, str, int]]:
    """(client, server, port) for every connection the compose file configures: host:port in
    environment values, commands and entrypoints (after interpolation), *HOST with *PORT
    pairs (DB_HOST/DB_PORT, PGHOST/PGPORT), and the gateway's upstreams."""
    services = compose["services"]
    names = {n: n for n in services} | compose_aliases(compose)
    edges: set[tuple[str, str, int]] = set()
    for name, service in services.items():
        environment = {str(k): _interpolate(str(v), env)
                       for k, v in (service.get("environment") or {}).items()}
        texts = [*environment.values(),
                 *(_interpolate(str(a), env) for key in ("command", "entrypoint")
                   for a in (service.get(key) or []))]
        for text in texts:
            for host, port in _HOST_PORT.findall(text):
                if host in names and names[host] != name:
                    edges.add((name, names[host], int(port)))
        for key, value in environment.items():
            if key.endswith("HOST") and value in names and names[value] != name:
                port = environment.get(key[: -len("HOST")] + "PORT")  # DB_HOST, PGHOST
                if port and port.isdigit():
                    edges.add((name, names[value], int(port)))
    for host, port in _UPSTREAM.findall(gateway_template.read_text()):
        if host in names:
            edges.add(("gateway", names[host], int(port)))
    return edges


def policy_edges(docs: Iterable[Mapping[str, Any]]) -> tuple[set[tuple[str, str, int]],
                                                              set[tuple[str, str, int]], list[str]]:
    """(edges allowed out, edges allowed in, rules that are neither) of the NetworkPolicies,
    leaving aside DNS egress to kube-dns and ingress from the ingress controller's namespace."""
    egress, ingress, other = set(), set(), []
    for policy in _by_kind(docs, "NetworkPolicy"):
        spec = policy["spec"]
        own = ((spec.get("podSelector") or {}).get("matchLabels") or {}).get(NAME_LABEL)
        for direction, peer_key, out in (("egress", "to", egress), ("ingress", "from", ingress)):
            for rule in spec.get(direction) or []:
                ports = [int(p["port"]) for p in rule.get("ports") or []]
                for peer in rule.get(peer_key) or [{}]:
                    labels = (peer.get("podSelector") or {}).get("matchLabels") or {}
                    if "namespaceSelector" in peer:
                        if direction == "egress" and set(ports) == {DNS_PORT}:
                            continue
                        if direction == "ingress" and own == "gateway":
                            continue
                    peer_name = labels.get(NAME_LABEL)
                    if not peer_name or not ports or own is None or "ipBlock" in peer \
                            or "namespaceSelector" in peer:
                        other.append(f"NetworkPolicy/{policy['metadata']['name']}: {direction} "
                                     f"rule {rule} is not a pod-to-pod edge")
                        continue
                    for port in ports:
                        out.add((own, peer_name, port) if direction == "egress"
                                else (peer_name, own, port))
    return egress, ingress, other


def _translate(value: str) -> str:
    return _VARIABLE.sub(lambda m: f"$({m.group(1)})", value).replace("$$", "$")


def agreement_problems(docs: Sequence[Mapping[str, Any]], compose_file: Path = COMPOSE_FILE,
                       templates: Mapping[str, Path] | None = None,
                       gateway_template: Path | None = None) -> list[str]:
    templates = dict(TEMPLATES if templates is None else templates)
    compose = load_compose(compose_file)
    compose_dir = compose_file.parent
    problems: list[str] = []
    services = compose["services"]
    found = workloads(docs)
    sidecars = compose_sidecars(compose)
    for name in sorted(services.keys() - found.keys() - sidecars.keys()):
        problems.append(f"compose service {name}: no workload in the manifests")
    for name in sorted(found.keys() - services.keys()):
        problems.append(f"{_id(found[name])}: not a compose service")
    config_maps = {d["metadata"]["name"]: d for d in _by_kind(docs, "ConfigMap")}
    secrets = {d["metadata"]["name"]: d for d in _by_kind(docs, "Secret")}
    cm_keys = set((config_maps.get(CONFIG_MAP) or {}).get("data") or {})
    secret_doc = secrets.get(SECRET) or {}
    secret_keys = set(secret_doc.get("stringData") or {}) | set(secret_doc.get("data") or {})
    for label, path in templates.items():
        names = set(read_env_file(path))
        for key in sorted(names - cm_keys - secret_keys):
            problems.append(f"{key}: in the {label} template, in neither {CONFIG_MAP} nor "
                            f"{SECRET}")
        for key in sorted((cm_keys | secret_keys) - names):
            problems.append(f"{key}: in the manifests, not in the {label} template")
    for key in sorted(set(SECRET_KEYS) - secret_keys):
        problems.append(f"{key}: a secret (envcheck.SECRET_KEYS), not in {SECRET}")
    for key in sorted(cm_keys & set(SECRET_KEYS)):
        problems.append(f"{key}: a secret in the ConfigMap {CONFIG_MAP}")
    local_env = read_env_file(templates.get("local", TEMPLATES["local"]))
    for name, service in services.items():
        doc = found.get(sidecars.get(name, name))
        if doc is None:
            continue
        long_running = service.get("restart") not in (None, "no")
        if long_running != (doc["kind"] in LONG_RUNNING):
            problems.append(f"{_id(doc)}: compose service {name} is "
                            f"{'long-running' if long_running else 'a one-shot'}")
        containers = _pod(doc).get("containers") or []
        if name in sidecars:
            containers = [c for c in containers if c.get("name") == name]
            if not containers:
                problems.append(f"{_id(doc)}: no container {name} (compose service {name} "
                                f"shares {sidecars[name]}'s network)")
                continue
        else:
            containers = [c for c in containers if c.get("name") not in sidecars]
        if len(containers) != 1:
            problems.append(f"{_id(doc)}: expected one container, found {len(containers)}")
            continue
        problems += _container_agrees(_id(doc), service, containers[0], cm_keys, secret_keys,
                                      compose_dir, _pod(doc))
    aliases = compose_aliases(compose)
    k8s_services = {d["metadata"]["name"]: d for d in _by_kind(docs, "Service")}
    gateway = gateway_template or COMPOSE_FILE.parent / "nginx" / "gateway.conf.template"
    edges = compose_edges(compose, local_env, gateway)
    alias_service = {alias.split(".")[0]: target for alias, target in aliases.items()}
    for client, server, port in sorted(edges):
        svc = k8s_services.get(server)
        if svc is None or port not in {p.get("port") for p in svc["spec"].get("ports") or []}:
            problems.append(f"edge {client} -> {server}:{port}: no Service {server} with port "
                            f"{port}")
            continue
        container = (_pod(found[server]).get("containers") or [{}])[0] if server in found else {}
        if port not in {p.get("containerPort") for p in container.get("ports") or []}:
            problems.append(f"edge {client} -> {server}:{port}: container has no port {port}")
    for alias_name, target in sorted(alias_service.items()):
        svc = k8s_services.get(alias_name)
        if svc is None or (svc["spec"].get("selector") or {}).get(NAME_LABEL) != target:
            problems.append(f"compose alias {alias_name}: no Service {alias_name} selecting "
                            f"{target}")
    egress, ingress, other = policy_edges(docs)
    problems += other
    for edge in sorted(egress - edges):
        problems.append(f"NetworkPolicy allows {edge[0]} -> {edge[1]}:{edge[2]} out, not a "
                        "compose edge")
    for edge in sorted(edges - egress):
        problems.append(f"NetworkPolicy blocks compose edge {edge[0]} -> {edge[1]}:{edge[2]} "
                        "(no egress rule)")
    for edge in sorted(ingress - edges):
        problems.append(f"NetworkPolicy allows {edge[0]} -> {edge[1]}:{edge[2]} in, not a "
                        "compose edge")
    for edge in sorted(edges - ingress):
        problems.append(f"NetworkPolicy blocks compose edge {edge[0]} -> {edge[1]}:{edge[2]} "
                        "(no ingress rule)")
    return problems + migration_problems(docs, compose_file.parents[1] / "migrations")


MIGRATIONS_CONFIG_MAP = "sobertube-migrations"


def migration_problems(docs: Sequence[Mapping[str, Any]], migrations: Path) -> list[str]:
    """Every step of the stack's migrations (NNNN_name/up.sql, down.sql; the compose file mounts
    the whole folder) is in the ConfigMap sobertube-migrations with the file's text, and a Job
    mounts it at NNNN_name/<step>.sql, where apply-migrations.sh looks."""
    data: Mapping[str, Any] = next((d.get("data") or {} for d in _by_kind(docs, "ConfigMap")
                                    if d["metadata"]["name"] == MIGRATIONS_CONFIG_MAP), {})
    mounted: dict[str, str] = {}
    for doc in _by_kind(docs, "Job"):
        for volume in _pod(doc).get("volumes") or []:
            if (volume.get("configMap") or {}).get("name") == MIGRATIONS_CONFIG_MAP:
                mounted.update({str(i.get("key")): str(i.get("path"))
                                for i in volume["configMap"].get("items") or []})
    problems = []
    for step in sorted(migrations.glob("*/*.sql")):
        where = f"{step.parent.name}/{step.name}"
        key = f"{step.parent.name}.{step.name}"
        if data.get(key) != step.read_text():
            problems.append(f"migration {where}: not in ConfigMap {MIGRATIONS_CONFIG_MAP} "
                            f"(key {key})")
        elif mounted.get(key) != where:
            problems.append(f"migration {where}: no Job mounts it at {where}")
    return problems


def _container_agrees(where: str, service: Mapping[str, Any], container: Mapping[str, Any],
                      cm_keys: set[str], secret_keys: set[str], compose_dir: Path,
                      pod: Mapping[str, Any]) -> list[str]:
    problems = []
    if container.get("image") != service.get("image"):
        problems.append(f"{where}: image {container.get('image')!r}, compose has "
                        f"{service.get('image')!r}")
    env = {e["name"]: e for e in container.get("env") or []}
    from_config = any((e.get("configMapRef") or {}).get("name") == CONFIG_MAP
                      for e in container.get("envFrom") or [])
    for key, value in (service.get("environment") or {}).items():
        want = _translate(str(value))
        if key in env:
            entry = env[key]
            ref = ((entry.get("valueFrom") or {}).get("secretKeyRef") or {})
            got = f"$({ref.get('key')})" if ref.get("name") == SECRET else entry.get("value")
            if got != want:
                problems.append(f"{where}: {key} is {got!r}, compose has {want!r}")
        elif not (want == f"$({key})" and from_config and key in cm_keys):
            problems.append(f"{where}: {key} is not set (compose sets it)")
    used = set(re.findall(r"\$\(([A-Z_][A-Z0-9_]*)\)", " ".join(
        [str(e.get("value", "")) for e in env.values()]
        + [str(a) for key in ("command", "args") for a in container.get(key) or []])))
    for name in sorted(used):
        if name in env or (from_config and name in cm_keys):
            continue
        problems.append(f"{where}: $({name}) is used but not defined")
    for name, entry in env.items():
        ref = ((entry.get("valueFrom") or {}).get("secretKeyRef") or {})
        if ref and (ref.get("name") != SECRET or ref.get("key") not in secret_keys):
            problems.append(f"{where}: {name} refers to a missing secret key {ref}")
    compose_args = [_translate(str(a)) for a in (service.get("entrypoint") or [])]
    if compose_args != list(container.get("command") or []):
        problems.append(f"{where}: command differs from the compose entrypoint")
    if [_translate(str(a)) for a in (service.get("command") or [])] != \
            list(container.get("args") or []):
        problems.append(f"{where}: args differ from the compose command")
    mounts = {m.get("mountPath") for m in container.get("volumeMounts") or []}
    for volume in service.get("volumes") or []:
        source, _, rest = str(volume).partition(":")
        target = rest.split(":")[0]
        if source.startswith(".") and not (compose_dir / source).exists():
            problems.append(f"compose mount {source}: does not exist "
                            f"(relative to {compose_dir.name}/)")
        if target not in mounts:
            problems.append(f"{where}: compose mounts {target}, the manifest does not")
    for volume in pod.get("volumes") or []:
        config_map = volume.get("configMap") or {}
        items = config_map.get("items") or []
        paths = [i.get("path") for i in items]
        if len(paths) != len(set(paths)):
            problems.append(f"{where}: volume {volume.get('name')} maps a path twice")
    return problems


def gateway_problems(k8s_template: Path = BASE / "gateway" / "default.conf.template",
                     compose_template: Path = COMPOSE_FILE.parent / "nginx"
                     / "gateway.conf.template", namespace: str = NAMESPACE) -> list[str]:
    """The k8s gateway configuration is the compose one with upstreams by full Service names."""
    k8s, compose = k8s_template.read_text(), compose_template.read_text()
    problems = []
    compose_up = _UPSTREAM.findall(compose)
    k8s_up = _UPSTREAM.findall(k8s)
    want = [(f"{host.split('.')[0]}.{namespace}.svc.cluster.local", port)
            for host, port in compose_up]
    if k8s_up != want:
        problems.append(f"{k8s_template.name}: upstreams {k8s_up}, want {want}")

    def locations(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines()
                if line.strip().startswith(("location", "proxy_pass", "return", "map ", "listen"))]

    if locations(k8s) != locations(compose):
        problems.append(f"{k8s_template.name}: locations or proxy rules differ from "
                        f"{compose_template.name}")
    return problems


def overlay_problems(cloud: str) -> list[str]:
    """Everything for one cloud's overlay, each line prefixed by the overlay's name."""
    docs = render(OVERLAYS / cloud)
    lines = schema_problems(docs) + rule_problems(docs) + agreement_problems(docs)
    kinds = {d.get("kind") for d in docs}
    for kind in ("StorageClass", "Ingress"):
        if kind not in kinds:
            lines.append(f"no {kind} (each overlay gives its own)")
    return [f"{cloud}: {line}" for line in lines]


def main(argv: list[str] | None = None) -> int:
    """`python -m soberharness.config.k8scheck [CLOUD...]`: one line per problem, or ok."""
    import sys

    clouds = (sys.argv[1:] if argv is None else argv) or list(CLOUDS)
    return report_problems(K8S, lambda: gateway_problems()
                           + [line for cloud in clouds for line in overlay_problems(cloud)])


if __name__ == "__main__":
    raise SystemExit(main())

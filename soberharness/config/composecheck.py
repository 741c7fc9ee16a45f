"""Cross-check the compose file against the environment templates and the stack's rules.

A real compose implementation validates the syntax (see `compose_config_command`); these
checks cover what it does not: every `${VAR}` is defined by every template and known to the
env validator, published ports are bound to 127.0.0.1 only, the seed's services are all
there, health conditions point at services that have a health check, `depends_on`
has no cycle, the stack's migrations run after the Storage API's first start, no image
is pinned at a version known to be unfit (`known_bad_pins`), and every service connects to
PostgreSQL with verified TLS, which the stack's pg_hba.conf requires (`dbtls`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from soberharness.config.cli import report_problems
from soberharness.config.dbtls import compose_problems, stack_hba_problems
from soberharness.config.envcheck import COMPOSE_FILE, REQUIRED_KEYS, TEMPLATES
from soberharness.config.envfile import read_env_file
from soberharness.config.known_bad_pins import pin_problems
from soberharness.errors import HarnessError

# Seed 1.1.1: postgres, realtime, auth, rest, storage, minio, imgproxy, edge functions,
# redis, nginx; plus the SMTP sink (1.3.2). Names as in Supabase's compose file.
SEED_SERVICES: frozenset[str] = frozenset(
    {
        "db",
        "auth",
        "rest",
        "realtime",
        "storage",
        "minio",
        "imgproxy",
        "functions",
        "redis",
        "gateway",
        "mail",
    }
)

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}; $$ is a literal dollar.
_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])[^}]*)?\}")


def load_compose(path: str | Path = COMPOSE_FILE) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"cannot read compose file {path}: {exc.strerror}") from None
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise HarnessError(f"{path}: no `services` mapping")
    return data


def compose_variables(path: str | Path = COMPOSE_FILE) -> dict[str, bool]:
    """Variables the compose file interpolates -> whether every use has a default."""
    text = Path(path).read_text(encoding="utf-8")
    uses: dict[str, bool] = {}
    for match in _VARIABLE.finditer(text):
        name, operator = match.group(1), match.group(2)
        has_default = operator in ("-", ":-")
        uses[name] = uses.get(name, True) and has_default
    return uses


def compose_command(
    compose_file: str | Path = COMPOSE_FILE, env_file: str | Path = TEMPLATES["local"]
) -> list[str]:
    """The command that makes docker-compose (v1) validate the file; needs no engine."""
    return ["docker-compose", "-f", str(compose_file), "--env-file", str(env_file), "config", "-q"]


def _published_ports(service: Mapping[str, Any]) -> Iterable[str]:
    for entry in service.get("ports") or []:
        if isinstance(entry, Mapping):  # long syntax
            host_ip = entry.get("host_ip", "")
            yield f"{host_ip}:{entry.get('published', '')}:{entry.get('target', '')}"
        else:
            yield str(entry)


def _depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def _find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def check_compose_structure(compose: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    services: Mapping[str, Any] = compose["services"]
    for missing in sorted(SEED_SERVICES - services.keys()):
        problems.append(f"service {missing}: missing (seed 1.1.1)")
    declared_networks = set((compose.get("networks") or {}).keys())
    graph: dict[str, list[str]] = {}
    for name, service in services.items():
        image = str(service.get("image", ""))
        tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
        if not tag or tag == "latest":
            problems.append(f"service {name}: image {image!r} has no pinned tag")
        for port in _published_ports(service):
            if not port.startswith("127.0.0.1:"):
                problems.append(f"service {name}: port {port!r} is not bound to 127.0.0.1")
        networks = service.get("networks") or []
        for network in networks if isinstance(networks, list) else networks.keys():
            if network not in declared_networks:
                problems.append(f"service {name}: network {network!r} is not declared")
        deps = _depends_on(service)
        graph[name] = list(deps)
        for dep, condition in deps.items():
            if dep not in services:
                problems.append(f"service {name}: depends on unknown service {dep!r}")
            elif condition == "service_healthy" and "healthcheck" not in services[dep]:
                problems.append(
                    f"service {name}: waits for {dep} to be healthy, which has no health check"
                )
        long_running = service.get("restart") not in (None, "no")
        if long_running and "healthcheck" not in service:
            problems.append(f"service {name}: no health check")
    if ("migrate" in services and "storage" in services
            and _depends_on(services["migrate"]).get("storage") != "service_healthy"):
        problems.append(
            "service migrate: must wait for storage to be healthy (the Storage API's own "
            "migrations grant all on storage tables; 0005_storage narrows them after)"
        )
    if cycle := _find_cycle(graph):
        problems.append(f"depends_on cycle: {' -> '.join(cycle)}")
    problems += pin_problems({f"service {name}": str(service.get("image", ""))
                              for name, service in services.items()})
    return problems


def check_compose_against_templates(
    compose_file: str | Path = COMPOSE_FILE,
    templates: Mapping[str, str | Path] | None = None,
) -> list[str]:
    """One line per disagreement between the compose file, the templates and the validator."""
    templates = dict(TEMPLATES if templates is None else templates)
    compose = load_compose(compose_file)
    problems = check_compose_structure(compose)
    problems += compose_problems(compose, Path(compose_file).name)
    hba = Path(compose_file).parent / "db" / "pg_hba.conf"
    if hba.is_file():
        problems += stack_hba_problems(hba)
    variables = compose_variables(compose_file)
    for name, has_default in sorted(variables.items()):
        if not has_default and name not in REQUIRED_KEYS:
            problems.append(
                f"${{{name}}}: used by the compose file, unknown to envcheck.REQUIRED_KEYS"
            )
    for label, path in templates.items():
        env = read_env_file(path)
        for name, has_default in sorted(variables.items()):
            if not has_default and name not in env:
                problems.append(
                    f"${{{name}}}: used by the compose file, not defined in the {label} template"
                )
        for name in sorted(REQUIRED_KEYS - env.keys()):
            problems.append(f"{name}: required by envcheck, not defined in the {label} template")
        for name in sorted(env.keys() - variables.keys() - REQUIRED_KEYS):
            problems.append(f"{name}: defined in the {label} template but used nowhere")
    return problems


def main(argv: list[str] | None = None) -> int:
    """`python -m soberharness.config.composecheck [COMPOSE_FILE]`: one line per problem."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    compose_file = Path(args[0]) if args else COMPOSE_FILE
    return report_problems(compose_file, lambda: check_compose_against_templates(compose_file))


if __name__ == "__main__":
    raise SystemExit(main())

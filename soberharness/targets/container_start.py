"""Starting one planned container and knowing it is ready, for the containers target: every
failure is one line naming the compose service (an image missing from the engine, a container
that exits before it is ready, a health check that fails or never passes, a one-shot that
exits non-zero), with the container's last log line. Polls the engine itself rather than
through testcontainers' wait strategies, which wait out their whole timeout on a container
that has already exited."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from soberharness.errors import TargetUnavailable
from soberharness.records.redact import redact

if TYPE_CHECKING:
    from soberharness.targets.containers import ContainerSpec

POLL_S = 0.25
ENGINE_TIMEOUT_S = 30


def check_images(target: str, address: str, specs: Iterable[ContainerSpec], source: str) -> None:
    """Every image the plan starts is on the engine (no registry is asked to pull it)."""
    import docker

    client = docker.DockerClient(base_url=address, timeout=ENGINE_TIMEOUT_S)
    try:
        for spec in specs:
            try:
                client.images.get(spec.image)
            except docker.errors.ImageNotFound:
                stands = (f" (standing for {spec.official} in the image override {source})"
                          if spec.official else "")
                raise TargetUnavailable(
                    f"target '{target}': service '{spec.name}': image '{spec.image}'{stands} is "
                    "not on the Docker engine, and it is never pulled") from None
    finally:
        client.close()


def user_id(target: str, address: str, spec: ContainerSpec, user: str) -> int:
    """The uid of `user` in the service's image (a throwaway container running `id -u`)."""
    import docker

    client = docker.DockerClient(base_url=address, timeout=ENGINE_TIMEOUT_S)
    try:
        out = client.containers.run(spec.image, ["-u", user], entrypoint=["id"], remove=True,
                                    network_disabled=True)
        return int(bytes(out).decode().strip())
    except docker.errors.ContainerError as exc:
        said = bytes(exc.stderr or b"").decode(errors="replace").strip().splitlines()
        reason = said[-1] if said else f"exit status {exc.exit_status}"
    except (docker.errors.DockerException, ValueError) as exc:
        reason = " ".join(str(exc).split())[:200]
    finally:
        client.close()
    raise TargetUnavailable(
        f"target '{target}': service '{spec.name}': no uid for user '{user}' in image "
        f"'{spec.image}', who must own the database's TLS key: {reason}")


def last_log_line(container: Any, secrets: Sequence[str]) -> str:
    """The last non-empty line the container wrote (stderr first), secrets redacted."""
    try:
        stdout, stderr = container.get_logs()
    except Exception:  # the container may be gone: the message says so
        return "(no log)"
    for stream in (stderr, stdout):
        lines = (stream or b"").decode(errors="replace").strip().splitlines()
        if lines:
            return redact(lines[-1].strip(), list(secrets))
    return "no output"


def _health_output(state: dict[str, Any]) -> str:
    log = (state.get("Health") or {}).get("Log") or []
    text = str(log[-1].get("Output", "")) if log else ""
    lines = text.strip().splitlines()
    return lines[-1].strip() if lines else "no output"


def start_one(target: str, spec: ContainerSpec, container: Any, secrets: Sequence[str]) -> None:
    """Start `container` and wait as its spec says; TargetUnavailable naming the service."""
    where = f"target '{target}': service '{spec.name}'"
    try:
        container.start()
    except Exception as exc:  # docker's APIError: its explanation is the engine's own words
        text = str(getattr(exc, "explanation", None) or exc)
        detail = redact(" ".join(text.split())[:400], list(secrets))
        raise TargetUnavailable(f"{where} did not start: {detail}") from None
    wrapped = container.get_wrapped_container()
    deadline = time.monotonic() + spec.wait.timeout_s
    while True:
        wrapped.reload()
        state: dict[str, Any] = wrapped.attrs.get("State", {})
        status = str(state.get("Status"))
        if status in ("exited", "dead"):
            code = int(state.get("ExitCode", -1))
            if spec.wait.kind == "exit" and code == 0:
                return
            verb = "exited" if spec.wait.kind == "exit" else "exited before it was ready, with"
            raise TargetUnavailable(
                f"{where} {verb} {code}: {last_log_line(container, secrets)}")
        health = str((state.get("Health") or {}).get("Status", ""))
        if spec.wait.kind == "healthcheck" and health == "healthy":
            return
        if spec.wait.kind == "healthcheck" and health == "unhealthy":
            raise TargetUnavailable(
                f"{where}: its health check failed: {redact(_health_output(state), list(secrets))}")
        if spec.wait.kind == "running" and status == "running":
            return
        if time.monotonic() > deadline:
            what = "its health check did not pass" if spec.wait.kind == "healthcheck" else (
                "it did not finish" if spec.wait.kind == "exit" else "it did not run")
            raise TargetUnavailable(
                f"{where}: {what} within {spec.wait.timeout_s:.0f}s (status {status}"
                f"{', health ' + health if health else ''}): {last_log_line(container, secrets)}")
        time.sleep(POLL_S)

"""The target contract every suite talks to, whatever runs the stack."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from soberharness.errors import ServiceMissing
from soberharness.targets.migrations import Migration


class Service(StrEnum):
    """Services of the self-hosted stack a suite can ask a target for."""

    POSTGRES = "postgres"  # direct SQL as an admin (setup, matrix, lints)
    AUTH = "auth"  # GoTrue
    MAIL = "mail"  # SMTP sink with an HTTP API (Mailpit)
    REST = "rest"  # PostgREST
    REALTIME = "realtime"
    STORAGE = "storage"  # Storage API
    # Storage's /render/image (imgproxy behind the Storage API); comes with storage, no URL
    # of its own: a remote target declares it in `capabilities`.
    IMAGE_TRANSFORMATION = "image-transformation"
    FUNCTIONS = "functions"  # edge runtime
    PROXY = "proxy"  # Toxiproxy in front of the database, for network faults


@dataclasses.dataclass(frozen=True)
class Keys:
    """Secrets a target hands to suites. Never printed: see soberharness.records.redact."""

    jwt_secret: str | None
    anon_key: str | None = None
    service_key: str | None = None

    def secrets(self) -> list[str]:
        return [s for s in (self.jwt_secret, self.anon_key, self.service_key) if s]


class Target(abc.ABC):
    """A running SoberTube stack: its endpoints, keys and what it offers."""

    name: str
    kind: str  # "local" | "containers" | "remote"
    labels: dict[str, str]  # cloud, region, ... for reports
    allows_destructive: bool = False

    @property
    @abc.abstractmethod
    def services(self) -> frozenset[Service]:
        """The services this target offers once started."""

    @abc.abstractmethod
    def start(self) -> None:
        """Bring the target up (or check a remote one is reachable). Idempotent."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop everything this target started. Safe to call twice."""

    @abc.abstractmethod
    def url(self, service: Service) -> str:
        """Base URL of an HTTP service; raises ServiceMissing when absent."""

    @abc.abstractmethod
    def admin_dsn(self, database: str | None = None) -> str:
        """DSN of a superuser-like connection (raises ServiceMissing without POSTGRES)."""

    @property
    @abc.abstractmethod
    def keys(self) -> Keys: ...

    def service_dsn(self, service: Service) -> str:
        """Admin DSN of the database `service` works on (the target's database unless a
        target gives a service one of its own, as the local target does for functions)."""
        return self.admin_dsn()

    @property
    def settings(self) -> Mapping[str, str]:
        """Behaviour-changing settings of the deployment's services, by their environment
        variable names (e.g. GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL): what suites need
        to know to expect the right behaviour. None known by default."""
        return {}

    @property
    def settings_source(self) -> str:
        """Where `settings` come from, for messages (see targets/service_settings.py)."""
        return f"target '{self.name}' ({self.kind})"

    def missing_reason(self, service: Service) -> str:
        """Why this target lacks `service`, when it knows (e.g. no image for it here)."""
        return ""

    def missing(self, services: list[Service] | tuple[Service, ...]) -> list[Service]:
        return [s for s in services if s not in self.services]

    def require(self, service: Service) -> None:
        if service not in self.services:
            raise ServiceMissing(service.value, self.name)

    def __enter__(self) -> Target:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- capabilities a target declares (by inheriting them); suites and the plugin ask with
# isinstance, and skip naming the capability a target lacks.


class DatabaseProvisioning(abc.ABC):
    """Makes throwaway databases on its server: clones of the migrated template, empty ones
    (bootstrap only), ones built from another stack's files; and drops them."""

    bootstrap_dir: Path
    migrations_dir: Path
    migrations: list[Migration]

    @abc.abstractmethod
    def new_database(self, prefix: str = "t") -> str:
        """A fresh database cloned from the migrated template; returns its name."""

    @abc.abstractmethod
    def empty_database(self, prefix: str = "scratch") -> str:
        """A database with the bootstrap only (no migrations); returns its name."""

    @abc.abstractmethod
    def database_from(self, bootstrap: Path, migrations: list[Migration],
                      prefix: str = "stack") -> str:
        """A database built from `bootstrap` and `migrations`; returns its name."""

    @abc.abstractmethod
    def drop_database(self, name: str) -> None: ...


class StackHost(abc.ABC):
    """Runs further stacks of the harness's own on this machine (PostgreSQL servers it starts,
    kills, fills and restores): what the chaos and disaster-recovery suites break."""

    @abc.abstractmethod
    def sibling(self, name: str, workdir: Path | None = None,
                pg_settings: Mapping[str, str] | None = None) -> Target:
        """Another stack like this one, not started, with its own PostgreSQL settings."""


class Deployment:
    """Runs elsewhere already: start() only checks it answers, so the run checks it before
    the first test rather than when a test first needs it."""


def lacks(target: Target, capability: type) -> str:
    """The skip reason for a target without `capability`."""
    what = " ".join((capability.__doc__ or "").split(":")[0].split(".")[0].split())
    return (f"target '{target.name}' ({target.kind}) does not declare {capability.__name__} "
            f"({what[:1].lower() + what[1:]})")

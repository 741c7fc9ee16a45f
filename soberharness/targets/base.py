"""The target contract every suite talks to, whatever runs the stack."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from enum import StrEnum

from soberharness.errors import ServiceMissing


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
    """Secrets a target hands to suites. Never printed: see soberharness.report.redact."""

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

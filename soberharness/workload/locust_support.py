"""Locust glue shared by the locust files in `loadtests/`: options, secrets, population,
pass/fail thresholds at the end of a run and the JSON summary.

Imported only by locust files (importing locust monkey-patches the process with gevent): the
pytest side runs locust as its own process (soberharness.workload.locust_run).

Secrets come from the environment, never from the command line:
SOBER_LOAD_JWT_SECRET (mints the users' JWTs), SOBER_LOAD_ANON_KEY (the `apikey` header),
SOBER_LOAD_SERVICE_KEY (only to read an existing population when no --population file is given).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from soberharness.checker import load_thresholds as lt
from soberharness.errors import Exit, HarnessError
from soberharness.workload.locust_run import (
    ENV_ANON_KEY,
    ENV_JWT_SECRET,
    ENV_SERVICE_KEY,
    REPORTS,
)
from soberharness.workload.rest_load import Population, discover_population

CONFIG_EXIT = Exit.BAD_INPUT  # bad configuration; 1 is kept for "thresholds broken"

log = logging.getLogger("soberharness.load")


@dataclasses.dataclass
class LoadConfig:
    """Everything the users of a locust file need, filled in by the init event."""

    jwt_secret: str = ""
    anon_key: str = ""
    population: Population | None = None
    think_scale: float = 1.0
    options: Any = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    started: float = dataclasses.field(default_factory=time.time)

    def users(self) -> Population:
        if self.population is None:
            raise HarnessError("load population not loaded (init event did not run)")
        return self.population


def _fail(message: str) -> None:
    print(f"loadtests: {message}", file=sys.stderr, flush=True)
    sys.exit(CONFIG_EXIT)


Judge = Callable[[Environment], tuple[str, dict[str, Any], list[str]]]


def register(run_name: str, required: Sequence[str] = (), defaults: lt.Thresholds | None = None,
             extra_meta: dict[str, Any] | None = None, judge: Judge | None = None
             ) -> LoadConfig:
    """Add the common options and the init/quitting listeners; return the config holder.

    `judge`, called on the master (or the single process) when locust quits, returns a
    section name, the section for the summary and the violations it found (they fail the
    run like broken thresholds)."""
    config = LoadConfig()
    base = defaults or lt.Thresholds()

    @events.init_command_line_parser.add_listener
    def _options(parser: Any) -> None:
        parser.add_argument("--population", default=os.environ.get("SOBER_LOAD_POPULATION", ""),
                           help="JSON file of load users (default: read profiles with the "
                                "service key)", include_in_web_ui=False)
        parser.add_argument("--max-error-rate", type=float, default=base.max_error_rate,
                           include_in_web_ui=False)
        parser.add_argument("--max-p95-ms", type=float, default=base.max_p95_ms,
                           include_in_web_ui=False)
        parser.add_argument("--max-p99-ms", type=float, default=base.max_p99_ms,
                           include_in_web_ui=False)
        parser.add_argument("--min-requests", type=int, default=base.min_requests,
                           include_in_web_ui=False)
        parser.add_argument("--per-endpoint", action="store_true",
                           help="apply the latency limits to every endpoint too",
                           include_in_web_ui=False)
        parser.add_argument("--summary-out", default=str(REPORTS / f"{run_name}.json"),
                           help="where the JSON summary goes", include_in_web_ui=False)
        parser.add_argument("--think-scale", type=float, default=1.0,
                           help="multiply every think time (short smoke runs)",
                           include_in_web_ui=False)

    @events.init.add_listener
    def _init(environment: Environment, **_: Any) -> None:
        opts = environment.parsed_options
        if opts is None:  # library use without a command line
            return
        config.options = opts
        config.think_scale = opts.think_scale
        config.jwt_secret = os.environ.get(ENV_JWT_SECRET, "")
        config.anon_key = os.environ.get(ENV_ANON_KEY, "")
        if not config.jwt_secret:
            _fail(f"{ENV_JWT_SECRET} is not set: signed-in users need the target's JWT secret")
        if not config.anon_key:
            _fail(f"{ENV_ANON_KEY} is not set: every request carries the anon key as apikey")
        try:
            if opts.population:
                config.population = Population.load(Path(opts.population))
            else:
                service_key = os.environ.get(ENV_SERVICE_KEY, "")
                if not service_key or not opts.host:
                    _fail(f"give --population FILE, or --host and {ENV_SERVICE_KEY} to read "
                          "existing profiles")
                config.population = discover_population(opts.host, config.anon_key, service_key)
        except HarnessError as exc:
            _fail(str(exc))

    @events.quitting.add_listener
    def _quitting(environment: Environment, **_: Any) -> None:
        opts = environment.parsed_options
        if opts is None or isinstance(environment.runner, WorkerRunner):
            return
        limits = lt.Thresholds(
            max_error_rate=opts.max_error_rate,
            max_p95_ms=opts.max_p95_ms,
            max_p99_ms=opts.max_p99_ms,
            min_requests=opts.min_requests,
            per_endpoint=opts.per_endpoint,
            required=tuple(required),
        )
        endpoints = lt.from_entries(environment.stats.entries.values())
        total = lt.from_entry(environment.stats.total)
        verdict = lt.evaluate(total, endpoints, limits)
        meta = {
            "locustfile": opts.locustfile,
            "host": opts.host,
            "users": opts.num_users,
            "spawn_rate": opts.spawn_rate,
            "run_time_s": opts.run_time,
            "started": config.started,
            "duration_s": round(time.time() - config.started, 3),
            "population": len(config.population.users) if config.population else 0,
        } | (extra_meta or {}) | config.meta
        sections: dict[str, Any] = {}
        if judge is not None:
            name, section, broken = judge(environment)
            sections[name] = section
            verdict = lt.Verdict(verdict.violations + tuple(broken))
        document = lt.summary(run_name, total, endpoints, limits, verdict, meta) | sections
        path = lt.write_summary(Path(opts.summary_out), document)
        for line in verdict.violations:
            log.error("threshold broken: %s", line)
        log.info("load %s: %s; summary %s", run_name, "PASS" if verdict.passed else "FAIL", path)
        environment.process_exit_code = verdict.exit_code

    return config


def fire(environment: Environment, kind: str, name: str, started: float, length: int = 0,
         error: BaseException | None = None, elapsed_ms: float | None = None) -> None:
    """Report a non-HTTP measurement (websocket join, fan-out) to locust's stats."""
    ms = elapsed_ms if elapsed_ms is not None else (time.perf_counter() - started) * 1000.0
    environment.events.request.fire(
        request_type=kind, name=name, response_time=ms, response_length=length,
        exception=error, context={},
    )

"""One assembly at start: settings in, the validated configuration every job runs on out.

`start`, `dev`, `simulate`, the `sip_simulator` fixture and `create_server` all go through
`assemble`, the `calls` commands through `call_log_url`: the same checks, the same one-line
errors, and each handler's configuration (the rules file above all) read once, here, not
per job.
"""

from __future__ import annotations

import copyreg
import dataclasses
import enum
import functools
import pickle
from collections.abc import Callable, Sequence
from typing import Any

from .clock import utc_now
from .database.engine import check_database_url
from .entrypoint import WorkerConfig
from .errors import ConfigError
from .fleet import FleetConfig, fleet_config
from .fleet.job_claims import JobClaims
from .handlers.registry import as_factory, resolve
from .handlers.selection import handler_names
from .open_files import ensure_open_files
from .settings import LogFormat, Settings, load_settings, require_livekit


class Mode(enum.StrEnum):
    START = "start"
    """Production: JSON log lines."""
    DEV = "dev"
    """Development: readable log lines."""
    SIMULATE = "simulate"
    """On the embedded LiveKit stand-in: readable lines, no LiveKit credentials read."""


_LOG_FORMAT = {Mode.START: LogFormat.JSON, Mode.DEV: LogFormat.CONSOLE}


def assemble(
    mode: Mode,
    *,
    handlers: Sequence[Any] = (),
    names: Sequence[str] | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> WorkerConfig:
    """Read the settings (unless given) with `overrides`, check them for `mode`, and build
    the configuration. `names`: exactly these configured handlers (else SIP_AGENT_HANDLERS
    and the settings that turn built-ins on); `handlers`: handler objects of your own, after
    them. A `rules` override is an explicit request for the router. ConfigError, in one
    line, for the first problem."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if names is not None:
        overrides["handlers"] = tuple(names)
    if settings is None:
        settings = load_settings(**overrides)
    elif overrides:
        settings = settings.model_copy(update=overrides)
    update: dict[str, Any] = {}
    if settings.log_format is LogFormat.AUTO:
        update["log_format"] = _LOG_FORMAT.get(mode, LogFormat.CONSOLE)
    if "rules" in overrides and "router" not in settings.handlers:
        explicit = "handlers" in settings.model_fields_set
        if explicit:
            update["handlers"] = (*settings.handlers, "router")
    if update:
        settings = settings.model_copy(update=update)
    if mode is Mode.SIMULATE:
        return worker_config(settings, handlers)
    require_livekit(settings)
    ensure_open_files(settings.max_calls)  # real rooms from here on: ~20 sockets a call
    config = worker_config(settings, handlers)
    # A fleet needs LiveKit to look at lost calls' rooms: start and dev, not simulate.
    return with_fleet(config, fleet_config(settings, handler_names(settings)))


def in_job_process(
    settings: Settings, handlers: tuple[Any, ...], fleet: FleetConfig | None
) -> WorkerConfig:
    """The configuration a job process of the process executor runs on, built there from
    what the worker built its own from: the handlers (their connections, threads, files)
    and the fleet's side belong to the process that uses them."""
    return with_fleet(worker_config(settings, handlers), fleet)


def _sent_as_recipe(
    config: WorkerConfig,
) -> tuple[Callable[..., WorkerConfig], tuple[Any, ...]]:
    if config.clock is not utc_now:  # the simulator's: its jobs run in its own process
        raise TypeError("a configuration on a clock of its own stays in its process")
    return in_job_process, (config.settings, config.own_handlers, config.fleet)


# How a configuration reaches a job process (SIP_AGENT_EXECUTOR=process pickles the
# entrypoint, and with it the configuration, for the forkserver): as its recipe.
copyreg.pickle(WorkerConfig, _sent_as_recipe)


def check_sendable(config: WorkerConfig) -> None:
    """ConfigError, naming the setting, when the process executor could not send the
    configuration to a job process: every job would fail to start."""
    try:
        pickle.dumps(config)
    except Exception as exc:  # pickle raises many types; any of them is the same refusal
        raise ConfigError(
            "invalid setting SIP_AGENT_EXECUTOR: process sends the configuration to each job"
            f" process and cannot send it ({type(exc).__name__}: {exc}); handlers of your own"
            " must be importable (defined at module level), or use loop or thread"
        ) from None


def with_fleet(config: WorkerConfig, fleet: FleetConfig | None) -> WorkerConfig:
    """`config` whose jobs claim their calls in the fleet's database (None: no fleet)."""
    opener = functools.partial(JobClaims.open, fleet) if fleet is not None else None
    return dataclasses.replace(config, fleet=fleet, job_fleet=opener)


def call_log_url(db: str | None = None) -> str:
    """The call log the `calls` commands read: `--db`, else SIP_AGENT_DB_URL, checked as
    `start` checks it (a problem with `--db` is named so)."""
    if db is None:
        url = load_settings().db_url
        check_database_url(url)
        return url
    try:
        check_database_url(db)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("setting SIP_AGENT_DB_URL", "--db")) from None
    return db


def worker_config(settings: Settings, handlers: Sequence[Any] = ()) -> WorkerConfig:
    """The configuration for settings already read and checked: handler names resolved,
    each built once to check it (those instances serve the health checks)."""
    names = handler_names(settings)
    if {"store", "webhook"} & set(names):
        check_database_url(settings.db_url)  # a URL that cannot work fails start-up here
    factories = [*resolve(names, settings), *(as_factory(h, repr(h)) for h in handlers)]
    built = tuple(factory(settings) for factory in factories)
    return WorkerConfig(
        settings=settings,
        handler_factories=tuple(factories),
        checked=built,
        own_handlers=tuple(handlers),
    )

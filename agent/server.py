"""The worker: a livekit-agents AgentServer that dispatches calls' rooms to `entrypoint`."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from livekit.agents import AgentServer, JobExecutorType

from . import handlers as handler_registry
from . import metrics
from .entrypoint import WorkerConfig, entrypoint
from .settings import Executor, Settings, load_settings

# Seconds a job gets, beyond the handler timeout, to end its calls and deliver them.
SHUTDOWN_MARGIN_S = 5.0


def worker_config(settings: Settings, handlers: Sequence[Any] = ()) -> WorkerConfig:
    """Resolve configured handler names and in-code handlers once; fails on a bad one."""
    factories = handler_registry.resolve(metrics.handler_names(settings))
    factories += [handler_registry.as_factory(h, repr(h)) for h in handlers]
    config = WorkerConfig(settings=settings, handler_factories=tuple(factories))
    # Build them once now so a broken handler or rules file fails start-up, not a call.
    for handler in config.build_handlers():
        del handler
    return config


def calls_load(max_calls: int) -> Any:
    """Admission by the calls this worker carries, not by whole-machine CPU."""

    def load(server: AgentServer) -> float:
        return min(1.0, len(server.active_jobs) / max_calls)

    return load


def create_server(settings: Settings | None = None, *, handlers: Sequence[Any] = ()) -> AgentServer:
    """An AgentServer for `python -m agent start|dev`, or for your own script's `run_app`."""
    settings = settings or load_settings()
    config = worker_config(settings, handlers)
    executor = (
        JobExecutorType.THREAD if settings.executor is Executor.THREAD else JobExecutorType.PROCESS
    )
    server = AgentServer(
        job_executor_type=executor,
        load_fnc=calls_load(settings.max_calls),
        # Just under 1: full once max_calls jobs run (production refuses a threshold >= 1).
        load_threshold=1.0 - 0.5 / settings.max_calls,
        port=settings.health_port,
        shutdown_process_timeout=settings.handler_timeout_s + SHUTDOWN_MARGIN_S,
    )
    server.rtc_session(
        functools.partial(entrypoint, config=config),
        agent_name=settings.name,
    )
    return server

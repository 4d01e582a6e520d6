"""The worker: a livekit-agents AgentServer that dispatches calls' rooms to `entrypoint`."""

from __future__ import annotations

import asyncio
import functools
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from livekit.agents import AgentServer, JobExecutorType

from . import ffi_routing, metrics, metrics_http, native_logs, store, webhooks
from .assembly import Mode, assemble, check_sendable
from .capacity import CallsServer
from .entrypoint import WorkerConfig, entrypoint
from .fleet.keeper import FleetKeeper
from .handlers.selection import handler_names
from .health import HEALTH, add_handler_checks
from .health import serve as serve_health
from .logs import make_logger, scrub_library_logs
from .settings import Executor, Settings

# Seconds a job gets, beyond the handler timeout, to end its calls and deliver them.
SHUTDOWN_MARGIN_S = 5.0
# Warm job executors kept ready. Admission does not depend on it (see capacity.py); a thread
# or a forked process starts in well under 0.1 s, so two cover a burst's first calls.
IDLE_EXECUTORS = 2
PRELOAD_LOCAL_INFERENCE = "LIVEKIT_AGENTS_PRELOAD_LOCAL_INFERENCE"


def _metrics_dir(settings: Settings) -> str | None:
    """Job processes write their metrics to files there; the worker sums them when scraped.
    Jobs on the loop or in threads share the worker process and its registry: no directory."""
    if settings.executor.in_worker_process or not metrics.enabled(settings):
        return None
    return tempfile.mkdtemp(prefix="sip-agent-metrics-")


def create_server(settings: Settings | None = None, *, handlers: Sequence[Any] = ()) -> AgentServer:
    """An AgentServer for your own script's `run_app`, checked as `start` checks it."""
    return server_for(assemble(Mode.START, handlers=handlers, settings=settings))


def server_for(config: WorkerConfig) -> AgentServer:
    """The AgentServer for a validated configuration (this loads LiveKit's native library)."""
    settings = config.settings
    in_process = settings.executor.in_worker_process
    if not in_process:
        check_sendable(config)
    # The SDK's default preloads voice models (~300 MiB per process) this worker never uses;
    # it reads the variable in the forkserver, so set it before any job process exists.
    os.environ.setdefault(PRELOAD_LOCAL_INFERENCE, "0")
    if in_process:
        if not settings.sdk_logs:
            native_logs.start_ffi_without_log_capture()
        # One FFI client for every job, created before any job (the SDK's lazy
        # singleton races under concurrent jobs), with each room's events routed to it alone.
        ffi_routing.install()
    server = CallsServer(
        max_calls=settings.max_calls,
        target_load=settings.server_target_load,
        job_executor_type=JobExecutorType.THREAD if in_process else JobExecutorType.PROCESS,
        jobs_on_loop=settings.executor is Executor.LOOP,
        num_idle_processes=IDLE_EXECUTORS,
        # Our health server takes the health port and asks the SDK's on a free loopback one
        # (one socket: bound to all interfaces, port 0 gives IPv4 and IPv6 different ports).
        host="127.0.0.1",
        port=0,
        shutdown_process_timeout=settings.handler_timeout_s + SHUTDOWN_MARGIN_S,
        prometheus_multiproc_dir=_metrics_dir(settings),
    )
    add_handler_checks(HEALTH, config.checked)
    # The SDK configures logging when it runs: its handlers exist once the worker started.
    server.on("worker_started", lambda: scrub_library_logs(settings))
    serve_health(server, HEALTH, "", settings.health_port)
    if settings.metrics_port is not None:
        # Not the SDK's prometheus_port: it would share the SDK server's loopback host.
        metrics_http.serve(server, settings.metrics_host, settings.metrics_port)
    names = handler_names(settings)
    if "store" in names:
        store.drain_at_start(settings)
    if "webhook" in names:
        webhooks.drain_at_start(settings)
    if config.fleet is not None:
        # It beats for a running worker only: a server built and never run (a script's
        # checks, a test) must not look alive to a fleet, nor leave a thread behind.
        keeper = FleetKeeper(config.fleet, settings, config.build_handlers, make_logger(settings))
        server.on("worker_started", keeper.start)
        server.close_with_worker(lambda: asyncio.to_thread(keeper.stop))
    server.rtc_session(
        functools.partial(entrypoint, config=config),
        agent_name=settings.name,
        on_request=server.accept_unless_served,
    )
    return server

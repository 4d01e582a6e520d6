"""Run a job entrypoint with a real JobContext on a real rtc.Room, against FakeLiveKit:
the stand-in for livekit-agents' job runner.

Mirrors what livekit-agents' job runner does (``ipc/job_proc_lazy_main.py``: ``_start_job``,
``_run_job_task``, ``_shutdown_job``) without a worker, a job process or a server, so an
entrypoint can be tested as the framework would run it: ``get_job_context()`` works, the job
ends on ``ctx.shutdown()`` or when the room disconnects, the entrypoint gets 15 s to return,
the room is disconnected and the shutdown callbacks run with the reason.

Private SDK names used (livekit-agents 1.8.9): ``JobContext.__init__`` (documented as a
private constructor), ``_JobContextVar``, ``JobContext._on_setup``, ``_on_session_end``,
``_on_cleanup``, ``_shutdown_callbacks``, ``_pending_tasks``, ``_participant_tasks``,
``_primary_agent_session``,
``http_context._new_session_ctx``/``_close_http_ctx`` and ``Room._info``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc
from livekit.agents import JobContext, JobExecutorType, JobProcess
from livekit.agents.job import JobAcceptArguments, RunningJobInfo, _JobContextVar
from livekit.agents.utils import http_context
from livekit.protocol import agent, models

from .room import FakeRoom
from .server import FakeLiveKit

__all__ = ["ENTRYPOINT_TIMEOUT", "JobRun", "run_job"]

logger = logging.getLogger(__name__)

Entrypoint = Callable[[JobContext], Coroutine[Any, Any, None]]

ENTRYPOINT_TIMEOUT = 15.0
"""How long the framework waits for the entrypoint after a shutdown before cancelling it."""

SHUTDOWN_REASON_EXTERNAL = "parent process shutdown"
"""The reason the framework gives when the worker (not the job) ends a job."""


class _NoInference:
    """The job process's inference executor; no local models run in tests."""

    async def do_inference(self, method: str, data: bytes) -> bytes | None:
        raise RuntimeError(f"no inference executor in tests (asked for {method!r})")


@dataclass
class JobRun:
    """A handle on a running job: its real JobContext and the fake server-side room."""

    ctx: JobContext
    room: FakeRoom
    _shutdown: asyncio.Future[str] = field(repr=False)
    _task: asyncio.Task[str] = field(repr=False)
    _connected: asyncio.Future[None] = field(repr=False)

    async def connected(self, timeout: float = 5) -> None:
        """Return once the job's room is connected (`ctx.connect()` returned), or the job
        ended without connecting."""
        async with asyncio.timeout(timeout):
            waits: set[asyncio.Future[Any]] = {self._connected, self._task}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)

    async def wait(self, timeout: float = 10) -> str:
        """The shutdown reason, once the job fully ended (shutdown callbacks done)."""
        return await asyncio.wait_for(asyncio.shield(self._task), timeout)

    def shutdown(self, reason: str = SHUTDOWN_REASON_EXTERNAL) -> None:
        """End the job from outside, as a worker shutdown or a JobTermination would."""
        if not self._shutdown.done():
            self._shutdown.set_result(reason)

    @property
    def done(self) -> bool:
        """Whether the job has fully ended."""
        return self._task.done()


async def run_job(
    livekit: FakeLiveKit,
    entrypoint: Entrypoint,
    *,
    room: str,
    agent_name: str = "sip-agent",
    job_id: str | None = None,
) -> JobRun:
    """Start ``entrypoint`` as a job dispatched to ``room``; it runs in a task of its own."""
    fake_room = livekit.room(room)
    job = agent.Job(
        id=job_id or f"AJ_{secrets.token_hex(6)}",
        dispatch_id=f"AD_{secrets.token_hex(6)}",
        type=agent.JobType.JT_ROOM,
        room=models.Room(name=room, sid=fake_room.sid),
        agent_name=agent_name,
    )
    identity = f"agent-{job.id}"
    now = time.time()
    info = RunningJobInfo(
        accept_arguments=JobAcceptArguments(name="", identity=identity, metadata=""),
        job=job,
        url="ws://fake-livekit.localhost:7880",
        token=livekit.token(room, identity, kind="agent", agent=True),
        worker_id=f"AW_{secrets.token_hex(6)}",
        fake_job=False,
        received_at=now,
        accepted_at=now,
        assigned_at=now,
        launched_at=now,
    )
    rtc_room = rtc.Room()
    rtc_room._info.name = room  # as _start_job does: ctx.room.name before connecting
    shutdown: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _set_shutdown(reason: str) -> None:
        if not shutdown.done():
            shutdown.set_result(reason)

    rtc_room.on("disconnected", lambda *_: _set_shutdown("room disconnected"))
    ctx = JobContext(
        proc=JobProcess(executor_type=JobExecutorType.THREAD, user_arguments=None, http_proxy=None),
        info=info,
        room=rtc_room,
        on_connect=lambda: connected.set_result(None),
        on_shutdown=lambda reason: _set_shutdown(reason or "user requested"),
        inference_executor=_NoInference(),
    )
    task = asyncio.create_task(_run(ctx, entrypoint, shutdown), name=f"job-{job.id}")
    return JobRun(ctx=ctx, room=fake_room, _shutdown=shutdown, _task=task, _connected=connected)


async def _run(ctx: JobContext, entrypoint: Entrypoint, shutdown: asyncio.Future[str]) -> str:
    """``_run_job_task`` + ``_shutdown_job`` without the IPC, tracing and cloud uploads."""
    ctx._on_setup()
    job_ctx_token = _JobContextVar.set(ctx)
    http_context._new_session_ctx()
    entry = asyncio.create_task(entrypoint(ctx), name="job_user_entrypoint")

    def _on_entry_done(t: asyncio.Task[None]) -> None:
        if not t.cancelled() and t.exception() is not None:
            logger.error("unhandled exception in the job entrypoint", exc_info=t.exception())
            if not shutdown.done():
                shutdown.set_result("job crashed")

    entry.add_done_callback(_on_entry_done)
    try:
        reason = await shutdown
        if not entry.done():
            try:
                await asyncio.wait_for(asyncio.shield(entry), ENTRYPOINT_TIMEOUT)
            except TimeoutError:
                logger.warning("entrypoint did not exit in time, cancelling")
                entry.cancel()
                with contextlib.suppress(BaseException):
                    await entry
            except Exception:
                pass  # logged by _on_entry_done; the shutdown callbacks still run
        if session := ctx._primary_agent_session:
            await session.aclose()
        try:
            await ctx._on_session_end()
        except Exception:
            logger.exception("error in job_ctx._on_session_end")
        await ctx.room.disconnect()
        results = await asyncio.gather(
            *(callback(reason) for callback in ctx._shutdown_callbacks), return_exceptions=True
        )
        for result in results:
            if isinstance(result, Exception):
                logger.error("error in a shutdown callback", exc_info=result)
        return reason
    finally:
        if not entry.done():
            entry.cancel()
            with contextlib.suppress(BaseException):
                await entry
        # a job process would exit here; in one test process, end what the job left running
        if tasks := [*ctx._pending_tasks, *ctx._participant_tasks.values()]:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await ctx._on_cleanup()
        await http_context._close_http_ctx()
        _JobContextVar.reset(job_ctx_token)

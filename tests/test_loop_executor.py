"""The loop executor: every job a task on the worker's own event loop, no thread per job,
with livekit-agents' job lifecycle (shutdown callbacks, termination, the worker's close)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator

import pytest
from live_worker import AGENT, API_KEY, API_SECRET, calls_server, running
from livekit.agents import AgentServer, JobContext
from livekit.agents.ipc.job_proc_lazy_main import _JobProc
from livekit.agents.ipc.proc_pool import ProcPool
from livekit.protocol import agent

from agent.loop_executor import JobsOnLoop
from agent.standin import AgentEndpoint
from agent.testing.polling import eventually

JOBS = 20


@pytest.fixture
async def endpoint() -> AsyncIterator[AgentEndpoint]:
    async with AgentEndpoint(api_key=API_KEY, api_secret=API_SECRET) as server:
        yield server


def test_the_private_sdk_names_relied_on_are_still_there() -> None:
    """The SDK builds its pool as `self._proc_pool` in `run`, the pool keeps what the
    executor reads, and `_JobProc` still has the job's side of the channel."""
    assert "self._proc_pool = ipc.proc_pool.ProcPool(" in inspect.getsource(AgentServer.run)
    pool_init = inspect.getsource(ProcPool.__init__)
    for name in (
        "_initialize_process_fnc",
        "_job_entrypoint_fnc",
        "_session_end_fnc",
        "_simulation_end_fnc",
        "_session_end_timeout",
        "_close_timeout",
        "_http_proxy",
        "_executors",
        "_monitor_tasks",
        "_started",
        "_closed",
    ):
        assert f"self.{name}" in pool_init, name
    assert callable(ProcPool._monitor_process_task)
    assert list(inspect.signature(_JobProc.initialize).parameters) == ["self", "init_req", "client"]
    assert "self._client.send(" in inspect.getsource(_JobProc)


async def test_jobs_run_on_the_workers_loop_and_end_through_the_job_lifecycle(
    endpoint: AgentEndpoint,
) -> None:
    """20 jobs run on the test's own loop and thread; the worker's thread count does not grow
    with them; a terminated job and, at the worker's close, every other job run their
    shutdown callbacks and report success."""
    ran: list[tuple[int, asyncio.AbstractEventLoop]] = []
    ended: list[str] = []

    async def entrypoint(ctx: JobContext) -> None:
        ran.append((threading.get_ident(), asyncio.get_running_loop()))

        async def on_shutdown(reason: str) -> None:
            ended.append(ctx.job.room.name)

        ctx.add_shutdown_callback(on_shutdown)

    server = calls_server(endpoint, jobs_on_loop=True, entrypoint=entrypoint)
    async with running(server, endpoint):
        assert isinstance(server._proc_pool, JobsOnLoop)
        threads_before = {t.ident for t in threading.enumerate()}
        jobs = await asyncio.gather(*(endpoint.dispatch(AGENT, f"call-{i}") for i in range(JOBS)))
        await eventually(lambda: len(ran) == JOBS, 10, f"{JOBS} entrypoints run")
        assert set(ran) == {(threading.get_ident(), asyncio.get_running_loop())}
        new = [t.name for t in threading.enumerate() if t.ident not in threads_before]
        assert len(new) < 10 and not [n for n in new if n == "job_thread_runner"], new
        assert len(server.active_jobs) == JOBS

        await endpoint.terminate(jobs[0].id)
        await endpoint.wait_for_job_status(jobs[0].id, agent.JobStatus.JS_SUCCESS, timeout=10)
        assert ended == ["call-0"]
        await eventually(lambda: len(server.active_jobs) == JOBS - 1, 5, "the job gone")
    assert sorted(ended) == sorted(f"call-{i}" for i in range(JOBS))

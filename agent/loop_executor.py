"""Jobs as tasks on the worker's own event loop: many rooms, one loop, no thread per call.

livekit-agents' thread executor gives every job a thread with its own event loop, a loop
monitor thread and a default executor: measured against a real livekit-server, ~25 Python
threads per call while a burst joins and two per idle call, each waking for its own timers
and fighting the others for the GIL (benchmarks/BENCHMARKS.md, "Capacity on the real
server"). A call that only listens to attributes needs none of that. Here each job runs
livekit-agents' own job lifecycle (`_JobProc`: the JobContext, its room, the shutdown
sequence with its callbacks and the room's disconnect, exactly what a job thread runs) as a
task on the worker's loop, its messages passed in memory instead of over a socket.

`SIP_AGENT_EXECUTOR=loop` (the default). The SDK builds its job pool inside
`AgentServer.run`; `JobsOnLoop.adopt` takes that pool as built and changes only how it
launches a job: no idle executors to keep warm, a job starts as a task when it is assigned.

Private SDK names relied on (livekit-agents 1.8.9; tests/test_loop_executor.py checks they
are still there): `ipc.job_proc_lazy_main._JobProc` (`initialize`, `entrypoint`),
`ipc.proc_pool.ProcPool` (`_executors`, `_monitor_tasks`, `_monitor_process_task`,
`_initialize_process_fnc`, `_job_entrypoint_fnc`, `_session_end_fnc`, `_simulation_end_fnc`,
`_session_end_timeout`, `_close_timeout`, `_http_proxy`, `_started`, `_closed`), and the
server's `_proc_pool` attribute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from livekit.agents import JobExecutorType, utils
from livekit.agents.ipc import proto
from livekit.agents.ipc.channel import Message
from livekit.agents.ipc.job_executor import JobStatus
from livekit.agents.ipc.job_proc_lazy_main import _JobProc
from livekit.agents.ipc.proc_pool import ProcPool
from livekit.agents.job import RunningJobInfo

logger = logging.getLogger(__name__)


class LoopJobExecutor:
    """One job on the running loop (livekit-agents' `JobExecutor` protocol). The job talks to
    it as a job thread talks to its executor: `send` is the job's side of the channel."""

    def __init__(self, pool: ProcPool) -> None:
        self._id = utils.shortuuid("LOOPEXEC_")
        self._close_timeout: float = pool._close_timeout
        self._http_proxy: str | None = pool._http_proxy
        self._proc = _JobProc(
            pool._initialize_process_fnc,
            pool._job_entrypoint_fnc,
            pool._session_end_fnc,
            session_end_timeout=pool._session_end_timeout,
            # What the job's JobProcess reports: it shares the worker's process, as a thread.
            executor_type=JobExecutorType.THREAD,
            simulation_end_fnc=pool._simulation_end_fnc,
        )
        self._inbox = utils.aio.Chan[Message]()
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._user_args: Any | None = None
        self._running_job: RunningJobInfo | None = None
        self._status: JobStatus | None = None

    @property
    def id(self) -> str:
        return self._id

    @property
    def started(self) -> bool:
        return self._started

    @property
    def user_arguments(self) -> Any | None:
        return self._user_args

    @user_arguments.setter
    def user_arguments(self, value: Any | None) -> None:
        self._user_args = value

    @property
    def running_job(self) -> RunningJobInfo | None:
        return self._running_job

    @property
    def status(self) -> JobStatus:
        if self._status is None:
            raise RuntimeError("job status not available")
        return self._status

    async def start(self) -> None:
        self._started = True

    async def initialize(self) -> None:
        """The job process's set-up (the server's `setup_fnc`), then its message loop."""
        self._proc.initialize(proto.InitializeRequest(http_proxy=self._http_proxy or ""), self)  # type: ignore[arg-type]
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self._id)

    async def _run(self) -> None:
        try:
            await self._proc.entrypoint(self._inbox)
        finally:
            self._inbox.close()
            # As the thread executor reports it: a job that raised was logged by the SDK.
            self._status = JobStatus.SUCCESS

    async def launch_job(self, info: RunningJobInfo) -> None:
        if self._running_job is not None:
            raise RuntimeError("executor already has a running job")
        if self._task is None:
            raise RuntimeError("executor not initialized")
        self._running_job = info
        self._status = JobStatus.RUNNING
        start = proto.StartJobRequest()
        start.running_job = info
        self._inbox.send_nowait(start)

    async def join(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def aclose(self) -> None:
        """Ask the job to shut down (its callbacks run, its room disconnects); cancel it if it
        has not ended after the close timeout."""
        if self._task is None:
            return
        with contextlib.suppress(utils.aio.ChanClosed):
            self._inbox.send_nowait(proto.ShutdownRequest())
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=self._close_timeout)
        except TimeoutError:
            logger.error("job did not end in time, cancelling it", extra=self.logging_extra())
            await utils.aio.cancel_and_wait(self._task)

    async def send(self, msg: Message) -> None:
        """A message from the job (`_JobProc` calls its client's `send`)."""
        if isinstance(msg, proto.InferenceRequest):
            answer = proto.InferenceResponse(request_id=msg.request_id, error="no inference here")
            with contextlib.suppress(utils.aio.ChanClosed):
                self._inbox.send_nowait(answer)
        elif isinstance(msg, proto.Exiting):
            logger.debug("job exiting", extra={"reason": msg.reason, **self.logging_extra()})

    def logging_extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"executor_id": self._id}
        if self._running_job is not None:
            extra["job_id"] = self._running_job.job.id
            extra["room"] = self._running_job.job.room.name
        return extra


class JobsOnLoop(ProcPool):
    """The SDK's job pool, launching each job as a task on its loop (`LoopJobExecutor`)."""

    @classmethod
    def adopt(cls, pool: ProcPool) -> JobsOnLoop:
        """The pool the SDK built, now launching jobs on the loop (same object, same state:
        what the server registers on it later stays registered)."""
        pool.__class__ = cls
        assert isinstance(pool, JobsOnLoop)
        return pool

    async def start(self) -> None:
        self._started = True  # nothing to warm up

    async def aclose(self) -> None:
        if not self._started:
            return
        self._closed = True
        await asyncio.gather(*(executor.aclose() for executor in list(self._executors)))
        await asyncio.gather(*self._monitor_tasks)

    async def launch_job(self, info: RunningJobInfo) -> None:
        executor = LoopJobExecutor(self)
        self._executors.append(executor)
        self.emit("process_created", executor)
        await executor.start()
        self.emit("process_started", executor)
        await executor.initialize()
        self.emit("process_ready", executor)
        info.launched_at = time.time()
        await executor.launch_job(info)
        self.emit("process_job_launched", executor)
        monitor = asyncio.get_running_loop().create_task(self._monitor_process_task(executor))
        self._monitor_tasks.add(monitor)
        monitor.add_done_callback(self._monitor_tasks.discard)

"""Admission by the calls a worker carries, never by machine CPU, and never refusing a burst.

livekit-agents' default load is whole-machine CPU against a threshold of 0.7: an
attributes-only worker sharing a machine with voice agents (or forking idle processes)
reports itself full while it could carry many more calls, and LiveKit drops those
dispatches. Here the load is the share of `SIP_AGENT_MAX_CALLS` the worker carries.

livekit-server sends a job only to a worker whose reported load is under its own
`agents.target_load` (0.7 by default; the job's affinity is `target_load - load`, and 0 is
no bid: "no servers available"), whatever the worker's own threshold. A load of
`calls / max_calls` therefore stopped dispatch at 70% of `SIP_AGENT_MAX_CALLS` and the rest
of a burst's calls were in rooms no worker watched (79 of 100 served, measured). The load is
scaled to `SIP_AGENT_SERVER_TARGET_LOAD`, which is reached exactly at `max_calls`. And the
worker tells LiveKit its load as soon as a call starts or ends, not only every 2.5 s
(livekit-agents' status interval: 25 calls of a 10/s burst went out against a stale load).

The SDK also counts each request accepted but not yet launched (a "reserved slot") at
`threshold / num_idle_processes` while no job runs, so an idle worker accepts at most
`num_idle_processes` simultaneous requests and refuses the rest of a burst. Here a reserved
slot counts as one call, like a running one.

Private SDK names relied on (livekit-agents 1.8.9; tests/test_capacity_admission.py checks
them): `AgentServer._get_effective_load` (overridden), `AgentServer._reserved_slots`,
`AgentServer._worker_load` (the load the status message carries) and
`AgentServer._update_worker_status`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from livekit.agents import AgentServer, JobRequest
from livekit.agents.ipc.proc_pool import ProcPool

from .loop_executor import JobsOnLoop
from .settings import SERVER_TARGET_LOAD

logger = logging.getLogger(__name__)


def threshold(max_calls: int, target_load: float = SERVER_TARGET_LOAD) -> float:
    """Just under `target_load`: full once `max_calls` calls run."""
    return target_load * (1.0 - 0.5 / max_calls)


class CallsServer(AgentServer):
    """An AgentServer whose load is its calls (running or being accepted) over `max_calls`,
    scaled to the LiveKit server's target load."""

    def __init__(
        self,
        *,
        max_calls: int,
        target_load: float = SERVER_TARGET_LOAD,
        jobs_on_loop: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            load_fnc=self.calls_load, load_threshold=threshold(max_calls, target_load), **kwargs
        )
        self.max_calls = max_calls
        self.target_load = target_load
        self.jobs_on_loop = jobs_on_loop
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._reports: set[asyncio.Task[None]] = set()

    async def accept_unless_served(self, request: JobRequest) -> None:
        """Accept a job, unless this worker already runs one for the same room (same sid).

        A livekit-server restarted under a call dispatches the room again (seen on 1.13.5:
        a new job, `resuming: false`, as the room reopens) while this worker's job for it
        reconnects and resumes its calls: a second job would report every call again.
        Rejected with `terminate`, so no other worker takes it either."""
        room = request.room
        if any(
            running.job.room.sid == room.sid and running.job.room.name == room.name
            for running in self.active_jobs
        ):
            logger.info(
                "job refused: this worker already runs a job for the room",
                extra={"room": room.name, "job_id": request.id},
            )
            await request.reject(terminate=True)
            return
        await request.accept()

    def close_with_worker(self, close: Callable[[], Awaitable[None]]) -> None:
        """Run `close` when the worker shuts down, after the SDK's own parts: what we open
        beside it (the health front server and its client session) closes with it."""
        self._closers.append(close)

    async def aclose(self) -> None:
        await super().aclose()
        closers, self._closers = self._closers, []
        for close in closers:
            await close()

    @property
    def _proc_pool(self) -> ProcPool:
        return self._job_pool

    @_proc_pool.setter
    def _proc_pool(self, pool: ProcPool) -> None:
        # The SDK builds its pool inside `run`: with `jobs_on_loop`, jobs run on its loop.
        self._job_pool = JobsOnLoop.adopt(pool) if self.jobs_on_loop else pool
        self._job_pool.on("process_job_launched", self._report_load)
        self._job_pool.on("process_closed", self._report_load)

    def _report_load(self, _executor: object) -> None:
        """Send LiveKit the load once the step that started or ended a call is over: the job
        request still holds its reserved slot at launch (the call would count twice, and a
        worker one call short of full would say full), the pool still lists an ended job."""
        step = asyncio.current_task()
        if step is None:
            self._send_load_soon()
        else:
            step.add_done_callback(lambda _: self._send_load_soon())

    def _send_load_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(self._send_load())
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _send_load(self) -> None:
        self._worker_load = self.calls_load()
        await self._update_worker_status()

    def _load_of(self, calls: int) -> float:
        return self.target_load * min(1.0, calls / self.max_calls)

    def calls_load(self) -> float:
        return self._load_of(len(self.active_jobs))

    def _get_effective_load(self) -> float:
        reserved: int = getattr(self, "_reserved_slots", 0)
        return self._load_of(len(self.active_jobs) + reserved)

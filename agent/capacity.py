"""Admission by the calls a worker carries, never by machine CPU, and never refusing a burst.

livekit-agents' default load is whole-machine CPU against a threshold of 0.7: an
attributes-only worker sharing a machine with voice agents (or forking idle processes)
reports itself full while it could carry many more calls, and LiveKit drops those
dispatches. Here the load is `calls / SIP_AGENT_MAX_CALLS`.

The SDK also counts each request accepted but not yet launched (a "reserved slot") at
`threshold / num_idle_processes` while no job runs, so an idle worker accepts at most
`num_idle_processes` simultaneous requests and refuses the rest of a burst. Here a reserved
slot counts as one call, like a running one.

Private SDK names relied on (livekit-agents 1.8.9; tests/test_capacity_admission.py checks
them): `AgentServer._get_effective_load` (overridden) and `AgentServer._reserved_slots`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from livekit.agents import AgentServer, JobRequest
from livekit.agents.ipc.proc_pool import ProcPool

from .loop_executor import JobsOnLoop

logger = logging.getLogger(__name__)


def threshold(max_calls: int) -> float:
    """Just under 1: full once `max_calls` calls run (production refuses a threshold >= 1)."""
    return 1.0 - 0.5 / max_calls


class CallsServer(AgentServer):
    """An AgentServer whose load is its calls (running or being accepted) over `max_calls`."""

    def __init__(self, *, max_calls: int, jobs_on_loop: bool = False, **kwargs: Any) -> None:
        super().__init__(load_fnc=self.calls_load, load_threshold=threshold(max_calls), **kwargs)
        self.max_calls = max_calls
        self.jobs_on_loop = jobs_on_loop
        self._closers: list[Callable[[], Awaitable[None]]] = []

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

    def calls_load(self) -> float:
        return min(1.0, len(self.active_jobs) / self.max_calls)

    def _get_effective_load(self) -> float:
        reserved: int = getattr(self, "_reserved_slots", 0)
        return min(1.0, (len(self.active_jobs) + reserved) / self.max_calls)

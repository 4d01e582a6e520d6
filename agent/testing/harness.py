"""One job of the worker's real entrypoint on a stand-in room, with a `Recorder` as its first
handler: how a test drives a call and watches what the handlers get.

    job = OneJob(livekit, "call-room", load_settings(...), handlers=[mine])
    await job.start()
    job.room.join("sip_caller", attributes={...})
    (ended,) = await job.until("call.ended")
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from ..assembly import with_fleet, worker_config
from ..entrypoint import entrypoint
from ..fleet import FleetConfig
from ..settings import Settings
from ..standin import FakeLiveKit, FakeRoom, JobRun, Recorder, run_job

CONNECT_TIMEOUT_S = 5.0


class OneJob:
    def __init__(
        self,
        livekit: FakeLiveKit,
        room: str,
        settings: Settings,
        handlers: Sequence[Any] = (),
        *,
        fleet: FleetConfig | None = None,
    ) -> None:
        self.livekit = livekit
        self.room: FakeRoom = livekit.room(room)
        self.settings = settings
        """Read at `start`: a test may change them before."""
        self.recorder = Recorder()
        self._handlers = tuple(handlers)
        self._fleet = fleet
        """The worker's fleet, when the job is to claim its calls (and resume lost ones)."""
        self._job: JobRun | None = None

    @property
    def job(self) -> JobRun:
        if self._job is None:
            raise RuntimeError("the job has not started: await start() first")
        return self._job

    @property
    def started(self) -> bool:
        return self._job is not None

    async def start(self) -> JobRun:
        """Dispatch the job to the room; returns once its room is connected."""
        config = with_fleet(
            worker_config(self.settings, [self.recorder, *self._handlers]), self._fleet
        )
        self._job = await run_job(
            self.livekit,
            functools.partial(entrypoint, config=config),
            room=self.room.name,
            agent_name=self.settings.name,
        )
        # The job connects in its own task: wait for it, as a server would before routing.
        await self._job.connected(CONNECT_TIMEOUT_S)
        await self.room.settle()
        return self._job

    async def settle(self) -> None:
        """Every room event sent so far was handled by the job's room."""
        await self.room.settle()

    async def ended(self, timeout: float = 10) -> str:
        """The job's shutdown reason, once it fully ended."""
        return await self.job.wait(timeout)

    def types(self, call_id: str | None = None) -> list[str]:
        return self.recorder.types(call_id)

    def of(self, type_: str) -> list[Any]:
        return self.recorder.of(type_)

    async def until(self, type_: str, count: int = 1, timeout: float = 5) -> list[Any]:
        return await self.recorder.until(type_, count, timeout)

    async def delivered(self, count: int, timeout: float = 5) -> None:
        await self.recorder.delivered(count, timeout)

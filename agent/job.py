"""One job: the calls of its room, the pipeline that delivers their events, and the call
control acting on them.

The entrypoint builds one per job; handlers and rules reach it through `agent.current`
(`control(event)` does). What call control starts (action tasks, dials in flight, a hangup
or a deletion already asked for) lives here, and its results go back into the calls only as
tracker events (`RoomCalls.note`, `transferred`, `end_call`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from livekit import api, rtc

from .clock import Clock, utc_now
from .pipeline import Pipeline
from .room_calls import Resume, RoomCalls, RoomGone, StateTap
from .settings import Settings

DIAL_END_WAIT_S = 1.0
"""How long a failed dial's joined participant may take to leave after LiveKit's answer."""


class CallJob:
    def __init__(
        self,
        room: rtc.Room,
        settings: Settings,
        pipeline: Pipeline,
        logger: Any,
        *,
        api_client: Callable[[], api.LiveKitAPI],
        on_end: Callable[[], None],
        clock: Clock = utc_now,
        room_gone: RoomGone | None = None,
        resume: Resume | None = None,
        on_state: StateTap | None = None,
    ) -> None:
        self.room = room
        self.settings = settings
        self.pipeline = pipeline
        self.log = logger
        self.calls = RoomCalls(
            room,
            pipeline,
            settings,
            logger,
            on_idle=self._check_idle,
            clock=clock,
            room_gone=room_gone,
            hold_end=self._hold_end,
            resume=resume,
            on_state=on_state,
        )
        self._api_client = api_client
        self._api: api.LiveKitAPI | None = None
        self._on_end = on_end
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle_task: asyncio.Task[None] | None = None
        self._dials: dict[str, str | None] = {}
        """Dials in flight by identity, with a disconnect reason held until the dial's answer."""
        self._failed_dials: dict[str, tuple[str, int | None, asyncio.TimerHandle]] = {}
        """Dials LiveKit answered with a failure whose participant joined and has not left
        yet: (reason to end with, SIP status, the timer that ends them without waiting)."""
        self.hangups: dict[str, asyncio.Task[bool]] = {}
        """Hangups asked for, by identity: a second hangup of a call waits for the first."""
        self.deletion: asyncio.Task[bool] | None = None
        """The room's deletion, once asked for."""
        self.end_call_rpc: bool | None = None
        """Whether the SIP service answers `lk.sip.EndCall`; None until tried."""

    @property
    def api(self) -> api.LiveKitAPI:
        """LiveKit's server API, made on first use."""
        if self._api is None:
            self._api = self._api_client()
        return self._api

    @property
    def active(self) -> int:
        # A dial in flight keeps the job: its call may not have joined yet.
        return self.calls.active + len(self._dials) + len(self._failed_dials)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run an action beside event delivery; the job ends only after it finished."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- dials in flight ------------------------------------------------------------------

    def dial_started(self, identity: str) -> None:
        self._dials[identity] = None

    def dial_finished(
        self, identity: str, *, failure: str | None = None, sip_status_code: int | None = None
    ) -> None:
        """The dial request answered. A failure ends the call with `failure` as the reason,
        unless LiveKit's own disconnect reason came first; either way with the SIP status."""
        held = self._dials.pop(identity, None)
        if held is None and failure is not None and self.calls.joined(identity):
            # LiveKit removes the participant a few ms before it answers the request, but
            # that disconnect can reach the room after the answer: its reason (busy, no
            # answer) beats the one guessed from the error. Wait for it, briefly.
            timer = asyncio.get_running_loop().call_later(
                DIAL_END_WAIT_S, self._end_failed_dial, identity
            )
            self._failed_dials[identity] = (failure, sip_status_code, timer)
            return
        reason = held or failure
        if reason is not None:
            self.calls.end_call(identity, reason, sip_status_code=sip_status_code)
        self._check_idle()

    def _end_failed_dial(self, identity: str, reason: str | None = None) -> None:
        guessed, sip_status_code, timer = self._failed_dials.pop(identity)
        timer.cancel()
        self.calls.end_call(identity, reason or guessed, sip_status_code=sip_status_code)
        self._check_idle()

    def _hold_end(self, identity: str, reason: str) -> bool:
        if identity in self._failed_dials:
            self._end_failed_dial(identity, reason)
            return True
        if identity not in self._dials:
            return False
        # A failed dial's SIP status comes with the dial's answer: end the call then.
        self._dials[identity] = reason
        return True

    # -- the end of the job ---------------------------------------------------------------

    def _check_idle(self) -> None:
        if self.active == 0 and self._idle_task is None:
            self._idle_task = asyncio.get_running_loop().create_task(self._end_when_delivered())

    async def _end_when_delivered(self) -> None:
        await self._finish_tasks()
        await self.pipeline.drain()
        self._idle_task = None
        if self.active == 0:
            self._on_end()

    async def aclose(self) -> None:
        """End what is still up (the job ends under it) and deliver everything."""
        await self._finish_tasks()
        self._dials.clear()
        for identity in list(self._failed_dials):
            self._end_failed_dial(identity)
        await self.calls.end_remaining()
        await self.pipeline.aclose()

    async def _finish_tasks(self) -> None:
        # Actions are bounded by their own timeout; their results are events to deliver.
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

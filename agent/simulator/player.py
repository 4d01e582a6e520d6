"""The player: drives FakeRooms step by step while the real entrypoint runs a job per room.

A room's job is dispatched when the room's first call joins (LiveKit dispatches the agent
when a SIP call creates the room), so the worker finds that call already in the room and
later ones arrive as events. Handler output (the `log` handler's lines) appears as the
events are delivered; the player adds the scenario's notes and a summary line per call.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from livekit import api

from ..current import current_job
from ..entrypoint import WorkerConfig, entrypoint
from ..errors import ConfigError
from ..handlers.registry import as_factory
from ..logs import make_logger
from ..pipeline import Pipeline
from ..room_calls import RoomCalls
from ..standin import FakeLiveKit, FakeRoom, JobRun, Recorder, run_job
from ..webhooks import wait_delivered
from .clock import ScenarioClock
from .livekit_api import API_KEY, API_SECRET, Requests, livekit_api
from .model import (
    DeleteRoom,
    Dtmf,
    Join,
    Leave,
    Mute,
    Publish,
    Reconnect,
    Scenario,
    SetAttributes,
    Step,
    Unpublish,
    Wait,
)
from .results import PlayResult, collect, summary_line

if TYPE_CHECKING:
    from livekit.agents import JobContext

DEFAULT_SPEED = 10.0
"""Scenario seconds per real second; 0 plays without waiting at all."""
SPEEDS = (0.1, 1000.0)
"""Below 0.1 a 30 s wait takes more than five minutes: a typo, not a test."""
CONNECT_TIMEOUT_S = 10.0
DELIVERY_YIELDS = 5
"""Loop turns after a step's events are delivered, for the actions they set off to send
their requests, so a step's requests are answered before the next."""

Output = Callable[[str], None]


class _Stage:
    """The fake server's rooms and the jobs the worker runs in them."""

    def __init__(
        self,
        scenario: Scenario,
        config: WorkerConfig,
        clock: ScenarioClock,
        speed: float,
        livekit: FakeLiveKit,
        client: api.LiveKitAPI,
        requests: Requests,
        out: Output,
    ) -> None:
        self.scenario = scenario
        self.livekit = livekit
        self.api = client
        """The jobs' `ctx.api`: a client of the play's API stand-in."""
        self.requests = requests
        self.jobs: dict[str, JobRun] = {}
        self.pipelines: dict[str, Pipeline] = {}
        """Each room's job's delivery, to wait for it after each step."""
        self.calls: dict[str, tuple[RoomCalls, contextvars.Context]] = {}
        """Each room's job's calls, whose health deadlines run on scenario time, and the
        job's context to raise them in (its handlers and rules act in their job)."""
        self._config = config
        self._settings = config.settings
        self._clock = clock
        self._speed = speed
        self._out = out

    def _room(self, call: str) -> tuple[FakeRoom, str]:
        spec = self.scenario.calls[call]
        return self.livekit.room(spec.room), spec.identity

    async def run(self, step: Step) -> None:
        match step:
            case Join(call=name):
                spec = self.scenario.calls[name]
                await self._end_idle_job(spec.room)
                room = self.livekit.room(spec.room)
                room.join(spec.identity, kind=spec.kind, attributes=spec.attributes)
                if spec.room not in self.jobs:
                    await self._dispatch(spec.room)
            case SetAttributes(call=name, attributes=attributes):
                room, identity = self._room(name)
                room.set_attributes(identity, attributes)
            case Dtmf(call=name, digits=digits):
                room, identity = self._room(name)
                for digit in digits:
                    room.dtmf(identity, digit)
            case Publish(call=name, track=track):
                room, identity = self._room(name)
                room.publish(identity, track)
            case Unpublish(call=name):
                room, identity = self._room(name)
                room.unpublish(identity)
            case Mute(call=name, muted=muted):
                room, identity = self._room(name)
                room.mute(identity, muted)
            case Wait(seconds=seconds):
                await self._wait(seconds)
            case Leave(call=name, reason=reason):
                room, identity = self._room(name)
                room.leave(identity, reason)
            case DeleteRoom(room=name):
                self.livekit.room(name).delete()
            case Reconnect(room=name, back_after=back_after):
                # As a real server restart plays it: the participants come back (new sids)
                # seconds after the agent's connection is restored.
                self.livekit.room(name).restart_connection()
                await self._settle()
                await self._wait(back_after)
                self.livekit.room(name).rejoin()
        await self._settle()

    async def _wait(self, seconds: float) -> None:
        """Scenario time passes; each health deadline within it (`call.silence`,
        `call.agent_missing`) comes due at its own scenario time, and what it sets off is
        answered before time goes on."""
        if self._speed > 0:
            await asyncio.sleep(seconds / self._speed)
        end = self._clock() + timedelta(seconds=seconds)
        while (due := self._health_due(end)) is not None:
            self._clock.advance_to(due)
            for calls, context in list(self.calls.values()):
                context.run(calls.check_health)
            await self._settle()
        self._clock.advance_to(end)

    def _health_due(self, end: datetime) -> datetime | None:
        deadlines = [d for c, _ in self.calls.values() if (d := c.health_deadline()) is not None]
        due = min(deadlines, default=None)
        return due if due is not None and due <= end else None

    async def _entrypoint(self, ctx: JobContext) -> None:
        await entrypoint(ctx, config=self._config)
        # The entrypoint entered its job in this task's context: keep its pipeline.
        self.pipelines[ctx.room.name] = current_job().pipeline
        self.calls[ctx.room.name] = (current_job().calls, contextvars.copy_context())

    async def _dispatch(self, room: str) -> None:
        run = await run_job(
            self.livekit, self._entrypoint, room=room, agent_name=self._settings.name
        )
        # What the worker builds from LIVEKIT_URL/KEY/SECRET, set before the job's task
        # first runs, so os.environ stays the user's.
        run.ctx.api = self.api
        self.jobs[room] = run
        await run.connected(CONNECT_TIMEOUT_S)

    async def _end_idle_job(self, room: str) -> None:
        """A job whose calls all ended is on its way out: let it go before a new call."""
        run = self.jobs.get(room)
        if run is not None and not self.livekit.room(room).participants():
            await self._end(room, run)

    async def _end(self, room: str, run: JobRun) -> None:
        """The job ends by itself once its calls' events are delivered; else it is shut down
        (JOB_ENDED). Waits are bounded by the handler timeout, never a traceback."""
        await self._delivered(room)
        settings = self._settings
        timeout = settings.hangup_grace_s + settings.handler_timeout_s + 1
        try:
            await run.wait(timeout)
        except TimeoutError:
            run.shutdown("scenario over")
            # Each still-up call's call.ended and each handler's aclose, under the timeout.
            handlers = len(self._config.handler_factories)
            calls = len(self.livekit.room(room).participants())
            try:
                await run.wait((calls + 1) * (handlers + 1) * settings.handler_timeout_s + 1)
            except TimeoutError:
                self._out(f"!! room {room}: its job did not end; calls may lack call.ended")
        self.jobs.pop(room, None)
        self.pipelines.pop(room, None)
        self.calls.pop(room, None)

    async def _delivered(self, room: str) -> None:
        """Until every event of the room so far reached every handler (each handler call
        is bounded by the handler timeout, so this is too)."""
        pipeline = self.pipelines.get(room)
        if pipeline is not None:
            await pipeline.drain()

    async def _settle(self) -> None:
        """Until the worker is quiet: what the step changed is delivered, and every request
        it set off is answered, with what LiveKit did about it delivered in turn."""
        while True:
            started = self.requests.started
            for room in list(self.jobs):
                await self.livekit.room(room).settle()
                await self._delivered(room)
            for _ in range(DELIVERY_YIELDS):
                await asyncio.sleep(0)
            await self.requests.answered()
            if self.requests.started == started:
                return

    async def finish(self) -> None:
        """Calls still up when the script ends end with their job (JOB_ENDED)."""
        for room, run in list(self.jobs.items()):
            if self.livekit.room(room).participants():
                run.shutdown("scenario over")
            await self._end(room, run)


def check_speed(speed: float) -> float:
    """0, or a finite speed within SPEEDS; ConfigError naming --speed otherwise."""
    low, high = SPEEDS
    if speed == 0 or low <= speed <= high:
        return speed
    msg = f"--speed must be 0 (no waiting) or from {low:g} to {high:g} (got {speed:g})"
    raise ConfigError(msg)


async def play(
    scenario: Scenario,
    config: WorkerConfig,
    *,
    speed: float = DEFAULT_SPEED,
    out: Output = print,
) -> PlayResult:
    """Play the scenario through the real entrypoint with `config`'s handlers; check it."""
    check_speed(speed)
    recorder = Recorder("simulator")
    clock = ScenarioClock()
    config = replace(
        config,
        handler_factories=(*config.handler_factories, as_factory(recorder, "simulator")),
        clock=clock,
    )
    with FakeLiveKit(api_key=API_KEY, api_secret=API_SECRET) as livekit:
        async with livekit_api(livekit, scenario, out) as (client, requests):
            stage = _Stage(scenario, config, clock, speed, livekit, client, requests, out)
            try:
                for step in scenario.steps:
                    if step.note:
                        out(f"-- {step.note}")
                    await stage.run(step)
            finally:
                await stage.finish()
    # The play ends when its webhooks went out, not when they were queued (a stopped play
    # does not wait: they stay queued for the next run).
    calls = {event.call.key for event in recorder.events}
    await wait_delivered(config.settings, calls, make_logger(config.settings))
    result = collect(scenario, recorder.events)
    for call in result.calls.values():
        if call.events:
            out(summary_line(call))
    return result

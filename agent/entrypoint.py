"""The job entrypoint: one job per room the worker is dispatched to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from livekit import api, rtc

from . import current, ffi_routing
from .clock import Clock, utc_now
from .handlers import Handler, HandlerFactory
from .job import CallJob
from .logs import make_logger
from .metrics import pipeline_observer
from .pipeline import Pipeline
from .settings import Settings

if TYPE_CHECKING:
    from livekit.agents import JobContext

# A room that only listens needs one peer connection, gathered once: measured against a real
# livekit-server, that cut the SDK's native idle cost of a room to about a third
# (benchmarks/BENCHMARKS.md section 5). The SDK's reconnect still restarts ICE when needed.
LISTENER_RTC = rtc.RtcConfiguration(
    continual_gathering_policy=rtc.ContinualGatheringPolicy.GATHER_ONCE
)


@dataclass(frozen=True)
class WorkerConfig:
    """What every job of this worker needs, validated once at start."""

    settings: Settings
    handler_factories: Sequence[HandlerFactory] = field(default_factory=tuple)
    clock: Clock = utc_now
    """Where call times come from; the simulator plays scenarios on its own clock."""
    checked: tuple[Handler, ...] = ()
    """The handlers built once at start to check them; their health checks are served."""

    def build_handlers(self) -> list[Handler]:
        return [factory(self.settings) for factory in self.handler_factories]


async def room_gone(ctx: JobContext) -> bool:
    """Whether LiveKit no longer has the job's room (it was deleted)."""
    listed = await ctx.api.room.list_rooms(api.ListRoomsRequest(names=[ctx.room.name]))
    return not listed.rooms


async def entrypoint(ctx: JobContext, *, config: WorkerConfig) -> None:
    """Track every SIP call of the room; end the job when the last one's events are out."""
    settings = config.settings
    logger = make_logger(settings).bind(job_id=ctx.job.id)
    pipeline = Pipeline(
        config.build_handlers(),
        timeout=settings.handler_timeout_s,
        logger=logger,
        observer=pipeline_observer(settings),
    )
    job = CallJob(
        ctx.room,
        settings,
        pipeline,
        logger,
        api_client=lambda: ctx.api,
        on_end=lambda: ctx.shutdown("all calls ended"),
        clock=config.clock,
        room_gone=lambda: room_gone(ctx),
    )
    job.calls.attach()
    # Before connecting: the room's listen task, and every delivery task after it, inherit it.
    current.enter(job)

    async def close(reason: str) -> None:
        await job.aclose()
        logger.debug("job ended", room=ctx.room.name, reason=reason)

    ctx.add_shutdown_callback(close)
    # An attributes-only worker: no audio or video is ever subscribed.
    # livekit.agents is loaded by the worker running this job already; `agent` itself stays
    # cheap to import without it (tests/test_imports.py).
    from livekit.agents import AutoSubscribe

    await ctx.connect(
        auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE,
        rtc_config=LISTENER_RTC,
        single_peer_connection=True,
    )
    ffi_routing.route(ctx.room)
    job.calls.scan()

"""The job entrypoint: one job per room the worker is dispatched to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from livekit import api, rtc

from . import current, ffi_routing
from .clock import Clock, utc_now
from .fleet import FleetConfig
from .handlers import Handler, HandlerFactory
from .ice import listener_rtc
from .job import CallJob
from .logs import make_logger
from .metrics import pipeline_observer
from .pipeline import Pipeline
from .settings import Settings
from .tracker import CallState

if TYPE_CHECKING:
    from livekit.agents import JobContext


class JobFleet(Protocol):
    """A job's side of the fleet (agent/fleet/job_claims.py): a gate handler that holds each
    event until its call's claim is written, calls to resume, and every new call state."""

    gate: Handler

    def resume(self, identity: str, attributes: Mapping[str, str]) -> CallState | None: ...

    def track(self, state: CallState) -> None: ...

    def release(self) -> None: ...


JobFleetOpener = Callable[[str, Any], Awaitable[JobFleet]]
"""Opens a job's fleet side for (room name, logger)."""


@dataclass(frozen=True)
class WorkerConfig:
    """What every job of this worker needs, validated once at start."""

    settings: Settings
    handler_factories: Sequence[HandlerFactory] = field(default_factory=tuple)
    clock: Clock = utc_now
    """Where call times come from; the simulator plays scenarios on its own clock."""
    checked: tuple[Handler, ...] = ()
    """The handlers built once at start to check them; their health checks are served."""
    fleet: FleetConfig | None = None
    """Heartbeats and call claims in the shared database (`start` and `dev` with one)."""
    job_fleet: JobFleetOpener | None = None
    """Each job's claims, with `fleet` (the database layer loads only where it is set)."""
    own_handlers: tuple[Any, ...] = ()
    """The handler objects of your own it was built with (`create_server(handlers=...)`):
    what a job process rebuilds it from (agent/assembly.py)."""

    def build_handlers(self) -> list[Handler]:
        return [factory(self.settings) for factory in self.handler_factories]

    @property
    def rtc_config(self) -> rtc.RtcConfiguration:
        """The job room's peer connection (agent/ice.py)."""
        return listener_rtc(self.settings.ice_servers)


async def room_gone(ctx: JobContext) -> bool:
    """Whether LiveKit no longer has the job's room (it was deleted)."""
    listed = await ctx.api.room.list_rooms(api.ListRoomsRequest(names=[ctx.room.name]))
    return not listed.rooms


async def entrypoint(ctx: JobContext, *, config: WorkerConfig) -> None:
    """Track every SIP call of the room; end the job when the last one's events are out."""
    settings = config.settings
    logger = make_logger(settings).bind(job_id=ctx.job.id)
    claims = await config.job_fleet(ctx.room.name, logger) if config.job_fleet else None
    pipeline = Pipeline(
        # The claim gate first: no handler sees an event its call's claim does not hold.
        [claims.gate, *config.build_handlers()] if claims else config.build_handlers(),
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
        resume=claims.resume if claims else None,
        on_state=claims.track if claims else None,
    )
    job.calls.attach()
    # Before connecting: the room's listen task, and every delivery task after it, inherit it.
    current.enter(job)

    async def close(reason: str) -> None:
        await job.aclose()
        if claims is not None:
            claims.release()
        logger.debug("job ended", room=ctx.room.name, reason=reason)

    ctx.add_shutdown_callback(close)
    # An attributes-only worker: no audio or video is ever subscribed.
    # livekit.agents is loaded by the worker running this job already; `agent` itself stays
    # cheap to import without it (tests/test_imports.py).
    from livekit.agents import AutoSubscribe

    await ctx.connect(
        auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE,
        rtc_config=config.rtc_config,
        single_peer_connection=True,
    )
    ffi_routing.route(ctx.room)
    job.calls.scan()

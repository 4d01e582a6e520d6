"""The worker process's heartbeat and sweeper: calls of a lost worker resumed or ended.

A thread of its own with its own event loop (off the jobs' loops), every heartbeat interval:
beat (`fleet_workers.beat_at`), then look for claims whose worker stopped beating a lease
ago. Each one it takes over (atomically, `Claims.take_over`) is either resumed, when LiveKit
still lists the room with the call's participant in it (marked for resume first, then an
agent dispatch of this worker's agent name to the room: the job that comes resumes it), or
ended with what the claim knows, through handlers built as a job's are. A claim marked for
resume that no job took within a lease is looked at again the same way.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from livekit import api

from ..clock import utc_now
from ..database.migrate import migrated_engine
from ..handlers import Handler
from ..outcome import EndReason
from ..pipeline import Pipeline
from ..settings import Settings
from ..tracker import end
from .claims import Claim, Claims
from .config import FleetConfig
from .schema import FLEET

LIVEKIT_TIMEOUT_S = 5.0


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class FleetKeeper:
    def __init__(
        self,
        config: FleetConfig,
        settings: Settings,
        build_handlers: Callable[[], Sequence[Handler]],
        logger: Any,
        *,
        livekit: Callable[[], api.LiveKitAPI] | None = None,
    ) -> None:
        self.config = config
        self._settings = settings
        self._build_handlers = build_handlers
        self._log = logger
        self._livekit = livekit or self._default_livekit
        self._claims: Claims | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def _default_livekit(self) -> api.LiveKitAPI:
        s = self._settings
        return api.LiveKitAPI(
            s.livekit_url, s.livekit_api_key, s.livekit_api_secret.get_secret_value()
        )

    # -- running --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self.run()), name="sip-agent-fleet", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(LIVEKIT_TIMEOUT_S * 2)

    async def run(self) -> None:
        while not self._stop.is_set():
            await self.tick()
            await asyncio.to_thread(self._stop.wait, self.config.heartbeat_s)

    async def tick(self) -> int:
        """Beat, then take over and settle the calls of lost workers; how many were taken.
        A database that does not answer is a warning (once per outage), and the next tick."""
        try:
            await asyncio.to_thread(self._beat)
            orphans = await asyncio.to_thread(self.claims().orphans, self.config.lease_s)
        except Exception as exc:
            if not self._failing:
                self._log.warning("fleet heartbeat not written; retried", error=_first_line(exc))
            self._failing = True
            return 0
        self._failing = False
        taken = 0
        for claim in orphans:
            taken += await self._settle(claim)
        return taken

    def claims(self) -> Claims:
        if self._claims is None:
            self._claims = Claims(migrated_engine(self.config.db_url, FLEET))
        return self._claims

    def _beat(self) -> None:
        c = self.config
        self.claims().beat(c.worker_id, host=c.host, pid=c.pid, agent_name=c.agent_name)

    # -- one call of a lost worker --------------------------------------------------------

    async def _settle(self, claim: Claim) -> int:
        me, claims = self.config.worker_id, self.claims()
        if not await asyncio.to_thread(claims.take_over, claim, me, self.config.lease_s):
            return 0  # another live worker took it, or its worker beat again
        state = claim.state
        context = {"call_id": state.call.call_id, "call_key": claim.call_key, "room": claim.room}
        if state.ended:  # its end was emitted; the job died before releasing the claim
            await asyncio.to_thread(claims.release, [claim.call_key])
            return 1
        self._log.warning(
            "call of a lost worker taken over",
            **context,
            lost_worker=claim.worker_id,
            claim_age_s=round((utc_now() - _aware(claim.updated_at)).total_seconds(), 1),
        )
        try:
            present = await self._participant_present(claim)
        except Exception as exc:  # asked again after a lease, as a resume no job took
            await asyncio.to_thread(claims.mark_resuming, claim.call_key, me)
            self._log.warning(
                "LiveKit not asked about a lost call; retried", **context, error=_first_line(exc)
            )
            return 1
        if present:
            # Marked before the dispatch: the job it brings must find the call to resume.
            await asyncio.to_thread(claims.mark_resuming, claim.call_key, me)
            try:
                await self._dispatch(claim.room)
            except Exception as exc:
                self._log.warning(
                    "dispatch to resume a lost call failed; retried",
                    **context,
                    error=_first_line(exc),
                )
                return 1
            self._log.info("call.resuming", **context, agent_name=self.config.agent_name)
            return 1
        await self._end_lost(claim)
        await asyncio.to_thread(claims.release, [claim.call_key])
        return 1

    async def _participant_present(self, claim: Claim) -> bool:
        """Whether LiveKit lists the call's participant in its room (False: room gone)."""
        lk = self._livekit()
        try:
            async with asyncio.timeout(LIVEKIT_TIMEOUT_S):
                listed = await lk.room.list_participants(
                    api.ListParticipantsRequest(room=claim.room)
                )
        except api.TwirpError as exc:
            if exc.code == api.TwirpErrorCode.NOT_FOUND:
                return False
            raise
        finally:
            await lk.aclose()
        call_id = claim.state.call.call_id
        return any(
            p.identity == claim.identity or p.attributes.get("sip.callID") == call_id
            for p in listed.participants
        )

    async def _dispatch(self, room: str) -> None:
        lk = self._livekit()
        try:
            async with asyncio.timeout(LIVEKIT_TIMEOUT_S):
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(agent_name=self.config.agent_name, room=room)
                )
        finally:
            await lk.aclose()

    async def _end_lost(self, claim: Claim) -> None:
        """`call.ended` from what the claim knows, through this worker's handlers: the
        remote party's hangup when `hangup` was written, else WORKER_LOST (system)."""
        state = claim.state
        reason = EndReason.CLIENT_INITIATED if state.hangup_at else EndReason.WORKER_LOST
        _, events = end(state, reason=reason, now=utc_now())
        pipeline = Pipeline(
            self._build_handlers(), timeout=self._settings.handler_timeout_s, logger=self._log
        )
        pipeline.submit(events)
        await pipeline.aclose()


def _aware(at: datetime) -> datetime:
    # SQLite gives back naive datetimes; every time written here is UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=utc_now().tzinfo)

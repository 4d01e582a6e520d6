"""A job's side of the fleet: its calls' claims written as they change, and the calls a live
worker took over from a lost one, resumed in this job instead of started again."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

from ..database.migrate import migrated_engine
from ..handlers.base import Handler
from ..tracker import CallState
from .claims import Claims
from .config import FleetConfig
from .schema import FLEET
from .writer import ClaimGate, ClaimWriter, writer_for


class JobClaims:
    def __init__(self, writer: ClaimWriter, resumes: list[CallState], logger: Any) -> None:
        self._writer = writer
        self._resumes = resumes
        self._keys: set[str] = set()
        self.gate: Handler = ClaimGate(writer, logger)

    @classmethod
    async def open(cls, config: FleetConfig, room: str, logger: Any) -> JobClaims:
        """The job's claims, with the calls of `room` waiting to be resumed here (none when
        the database does not answer: the job then tracks what it sees, as without a fleet).
        `functools.partial(JobClaims.open, config)` is a WorkerConfig's `job_fleet`."""
        writer = writer_for(config, logger)

        def take() -> list[CallState]:
            claims = Claims(migrated_engine(config.db_url, FLEET))
            return [c.state for c in claims.take_resumes(room, config.worker_id)]

        try:
            resumes = await asyncio.to_thread(take)
        except Exception as exc:
            logger.warning(
                "calls to resume not read; calls in the room start as new",
                room=room,
                error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )
            resumes = []
        return cls(writer, resumes, logger)

    def resume(self, identity: str, attributes: Mapping[str, str]) -> CallState | None:
        """The state of the call this participant carries, if this job is to resume it
        (same identity, or same `sip.callID`)."""
        call_id = attributes.get("sip.callID")
        for state in self._resumes:
            if state.call.identity == identity or (
                call_id is not None and state.call.call_id == call_id
            ):
                self._resumes.remove(state)
                call = dataclasses.replace(state.call, identity=identity)
                return dataclasses.replace(state, call=call)
        return None

    def track(self, state: CallState) -> None:
        self._keys.add(state.call.key)
        self._writer.track(state)

    def release(self) -> None:
        """The job ended: its calls ended and their events reached every handler."""
        self._writer.release(sorted(self._keys))

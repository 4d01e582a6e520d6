"""The `store` handler: every call event into the call log."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from livekit.agents import get_job_context

from ..database.buffer import SpooledWriter, keep_draining
from ..database.probe import DatabaseCheck
from ..database.spool import Spool
from ..events import CallEvent
from ..logs import make_logger
from ..settings import Settings
from .api import CallStore
from .records import EventRecord, JobIds, event_record
from .schema import CALL_LOG


def current_job() -> JobIds:
    ctx = get_job_context(required=False)
    return JobIds(worker_id=ctx.worker_id, job_id=ctx.job.id) if ctx is not None else JobIds()


def spooled_writer(settings: Settings, logger: Any) -> SpooledWriter[EventRecord]:
    """Call-log writes, kept in the local spool while the database cannot take them."""
    store: list[CallStore] = []

    def write(records: Sequence[EventRecord]) -> None:
        if not store:
            store.append(CallStore.open(settings.db_url))
        store[0].write(records)

    return SpooledWriter[EventRecord](
        write,
        what="call log",
        db_url=settings.db_url,
        logger=logger,
        spool=Spool(Path(settings.spool_dir), "call_log", settings.spool_max),
        encode=lambda r: {"call": r.call, "event": r.event},
        decode=lambda d: EventRecord(call=d["call"], event=d["event"], data={}),
        describe=lambda r: {"call_key": r.event["call_key"], "seq": r.event["seq"]},
    )


class StoreHandler:
    """One row per call, one per event, in `SIP_AGENT_DB_URL` (opened on the first event)."""

    name = "store"

    def __init__(self, settings: Settings, logger: Any | None = None) -> None:
        self._numbers = settings.phone_numbers
        self._database = DatabaseCheck(settings.db_url, CALL_LOG)
        log = logger if logger is not None else make_logger(settings)
        self._writer = spooled_writer(settings, log)

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreHandler:
        return cls(settings)

    async def handle(self, event: CallEvent) -> None:
        await self._writer.add(event_record(event, self._numbers, current_job()))

    async def health_check(self) -> str | None:
        """Required: a call log that cannot be written makes the worker unhealthy."""
        return await self._database.check()

    async def aclose(self) -> None:
        await self._writer.aclose()


def drain_at_start(settings: Settings) -> None:
    """The worker's own process writes back, from start-up on, what the local spool holds
    (left by ended jobs or an earlier run) whenever the database answers."""
    writer = spooled_writer(settings, make_logger(settings))
    keep_draining(writer, f"call_log:{settings.spool_dir}:{settings.db_url}")

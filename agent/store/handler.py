"""The `store` handler: every call event into the call log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from livekit.agents import get_job_context

from ..database.buffer import BufferedWriter
from ..database.probe import DatabaseCheck
from ..events import CallEvent
from ..logs import make_logger
from ..settings import Settings
from .api import CallStore
from .records import EventRecord, JobIds, event_record
from .schema import CALL_LOG


def current_job() -> JobIds:
    ctx = get_job_context(required=False)
    return JobIds(worker_id=ctx.worker_id, job_id=ctx.job.id) if ctx is not None else JobIds()


class StoreHandler:
    """One row per call, one per event, in `SIP_AGENT_DB_URL` (opened on the first event)."""

    name = "store"

    def __init__(self, settings: Settings, logger: Any | None = None) -> None:
        self._url = settings.db_url
        self._numbers = settings.phone_numbers
        self._store: CallStore | None = None
        self._database = DatabaseCheck(settings.db_url, CALL_LOG)
        self._writer = BufferedWriter[EventRecord](
            self._write,
            what="call log",
            db_url=settings.db_url,
            logger=logger if logger is not None else make_logger(settings),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreHandler:
        return cls(settings)

    def _write(self, records: Sequence[EventRecord]) -> None:
        if self._store is None:
            self._store = CallStore.open(self._url)
        self._store.write(records)

    async def handle(self, event: CallEvent) -> None:
        await self._writer.add(event_record(event, self._numbers, current_job()))

    async def health_check(self) -> str | None:
        """Required: a call log that cannot be written makes the worker unhealthy."""
        return await self._database.check()

    async def aclose(self) -> None:
        await self._writer.aclose()

"""Writes that must not lose anything while the database is down.

Items wait in memory, in order, and every later write (and the job's close) tries them
again: an outage costs one warning, not events. The blocking write runs in a thread so
the job's event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import make_url

T = TypeVar("T")
# Pauses between the last tries when a job closes with writes still waiting (seconds).
CLOSE_RETRIES_S = (0.2, 0.5, 1.0)


def safe_url(url: str) -> str:
    """The database URL without its password, for logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable SIP_AGENT_DB_URL>"


class BufferedWriter(Generic[T]):
    def __init__(
        self, write: Callable[[Sequence[T]], None], *, what: str, db_url: str, logger: Any
    ) -> None:
        self._write = write
        self._what = what
        self._db = safe_url(db_url)
        self._log = logger
        self._pending: list[T] = []
        self._lock = asyncio.Lock()
        self._failing = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def add(self, item: T) -> bool:
        """Queue `item` and write everything queued; False while the database fails."""
        self._pending.append(item)
        return await self.flush()

    async def flush(self) -> bool:
        async with self._lock:
            if not self._pending:
                return True
            batch = list(self._pending)
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception as exc:  # any driver or network error: keep the items, warn once
                if not self._failing:
                    self._failing = True
                    self._log.warning(
                        f"{self._what} write failed; events kept in memory and retried",
                        db=self._db,
                        error=str(exc).splitlines()[0] if str(exc) else repr(exc),
                        pending=len(self._pending),
                        fix="check that SIP_AGENT_DB_URL's database is up and reachable",
                    )
                return False
            del self._pending[: len(batch)]
            if self._failing:
                self._failing = False
                self._log.info(f"{self._what} writes resumed", db=self._db, written=len(batch))
            return True

    async def aclose(self) -> None:
        """Last tries for what is still waiting; what cannot be written is logged as lost."""
        for pause in CLOSE_RETRIES_S:
            if await self.flush():
                return
            await asyncio.sleep(pause)
        if not await self.flush():
            self._log.error(
                f"{self._what}: events lost, the database stayed unreachable",
                db=self._db,
                lost=len(self._pending),
            )

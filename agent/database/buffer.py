"""Writes that must not be lost while the database is down, however long.

A write goes straight to the database while its spool is empty. When the database cannot
take it (down, unreachable, locked), it is kept in the local spool on disk (`Spool`), and
every later write goes there too, so order is kept; the spool is written back, oldest
first, by the next write, by the job's close, and by the worker's drainer (`drain`), in this
process or the next one. A write the database refuses for its data (not for being down) is
never retried as if the database were down: it is logged and dropped, and holds back
nothing. Blocking work runs in a thread so the job's event loop never waits on disk or
database.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError

from .. import metrics
from .spool import Spool

T = TypeVar("T")
BATCH = 200
# After a failed write, the database is asked again no sooner than this (seconds).
RETRY_AFTER_S = 1.0
DATA_ERRORS = (DataError, IntegrityError)


def safe_url(url: str) -> str:
    """The database URL without its password, for logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable SIP_AGENT_DB_URL>"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else repr(exc)


class SpooledWriter(Generic[T]):
    def __init__(
        self,
        write: Callable[[Sequence[T]], None],
        *,
        what: str,
        db_url: str,
        logger: Any,
        spool: Spool,
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
        describe: Callable[[T], dict[str, Any]],
    ) -> None:
        self._write = write
        self._what = what
        self._db = safe_url(db_url)
        self._log = logger
        self._spool = spool
        self._encode = encode
        self._decode = decode
        self._describe = describe
        self._lock = threading.Lock()
        self._failing = False
        self._full = False
        self._retry_at = 0.0
        self._spooled: bool | None = None  # unknown until first looked at

    @property
    def pending(self) -> int:
        return self._spool.count()

    async def add(self, item: T) -> bool:
        """Write `item` (or keep it on disk, in order); False while the database fails."""
        return await asyncio.to_thread(self._add, item)

    async def try_add(self, item: T) -> bool:
        """Write `item` now if the database takes it; False, keeping nothing, when it does
        not, when a failure is fresh or when the spool holds earlier writes (the caller
        sends it elsewhere)."""
        return await asyncio.to_thread(self._add_now, item)

    async def flush(self) -> bool:
        """Write what the spool holds now (a failure moments ago notwithstanding); True when
        it is empty."""
        return await asyncio.to_thread(self.drain, True)

    async def aclose(self) -> None:
        if not await self.flush():
            self._log.warning(
                f"{self._what}: database still unavailable; events kept on disk",
                db=self._db,
                spooled=self._spool.count(),
                spool=str(self._spool.path),
                fix="they are written when SIP_AGENT_DB_URL's database is back",
            )

    def _add(self, item: T) -> bool:
        with self._lock:
            if self._spooled is None:
                self._spooled = self._spool.count() > 0
            ready = not self._spooled and time.monotonic() >= self._retry_at
            if ready and self._try([item]):
                return True
            self._keep([item])
        return self.drain()

    def _add_now(self, item: T) -> bool:
        with self._lock:
            if self._spooled is None:
                self._spooled = self._spool.count() > 0
            if self._spooled or time.monotonic() < self._retry_at:
                return False
            return self._try([item])

    def _keep(self, items: list[T]) -> None:
        refused = self._spool.append([self._encode(i) for i in items])
        self._spooled = True
        count = self._spool.count()
        metrics.spooled(self._spool.part, count)
        if refused:
            metrics.spool_refused(self._spool.part, refused)
            if not self._full:
                self._log.warning(
                    f"{self._what}: local spool full; events lost",
                    refused=refused,
                    limit=self._spool.limit,
                    fix="bring SIP_AGENT_DB_URL's database back, or raise SIP_AGENT_SPOOL_MAX",
                )
        self._full = bool(refused)

    def _try(self, items: Sequence[T]) -> bool:
        """One write; True when done (written, or refused for its data and dropped)."""
        try:
            self._write(items)
        except DATA_ERRORS as exc:
            if len(items) > 1:  # find the one the database refuses; write the others
                return all([self._try([item]) for item in items])
            self._log.error(
                f"{self._what}: the database refused a write for its data; dropped",
                error=first_line(exc),
                **self._describe(items[0]),
            )
            return True
        except Exception as exc:  # down, unreachable, locked: keep it, warn once
            self._retry_at = time.monotonic() + RETRY_AFTER_S
            if not self._failing:
                self._failing = True
                self._log.warning(
                    f"{self._what} write failed; events kept on disk and retried",
                    db=self._db,
                    error=first_line(exc),
                    spool=str(self._spool.path),
                    fix="check that SIP_AGENT_DB_URL's database is up and reachable",
                )
            return False
        if self._failing:
            self._failing = False
            self._log.info(f"{self._what} writes resumed", db=self._db)
        return True

    def drain(self, now: bool = False) -> bool:
        """Write the spool back, oldest first (in any thread); True when it is empty. Within
        `RETRY_AFTER_S` of a failure it waits for the next call, unless `now`."""
        if not self._spool.path.exists():
            return True
        with self._lock, self._spool.draining() as mine:
            if not mine:
                return False
            while True:
                if not now and self._failing and time.monotonic() < self._retry_at:
                    return False
                now = False  # one forced try, not a loop against a database still down
                batch = self._spool.head(BATCH)
                if not batch:
                    self._spooled = False
                    metrics.spooled(self._spool.part, 0)
                    return True
                if not self._try([self._decode(item) for _, item in batch]):
                    return False
                self._spool.remove([row_id for row_id, _ in batch])


DRAIN_EVERY_S = 2.0
_drainers: dict[str, threading.Thread] = {}
_drainers_lock = threading.Lock()


def keep_draining(writer: SpooledWriter[Any], key: str) -> None:
    """A thread of this process that writes `writer`'s spool back whenever the database
    answers: what ended jobs (or an earlier run) left on disk goes in without a new call."""

    def run() -> None:
        while True:
            try:
                writer.drain()
            except Exception as exc:  # a broken spool file must not end the thread silently
                writer._log.warning("spool drain failed; retrying", error=first_line(exc))
            time.sleep(DRAIN_EVERY_S)

    with _drainers_lock:
        if key not in _drainers:
            thread = threading.Thread(target=run, name=f"sip-agent-drain-{key}", daemon=True)
            _drainers[key] = thread
            thread.start()

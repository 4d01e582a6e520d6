"""This process's writer of call claims, and the gate that keeps handlers behind it.

What gets written, and when: the job hands the writer every new tracker state of a call as it
emits events (`track`, a dict assignment and a wake-up: nothing on the event loop waits on the
database). One thread writes the latest state of each call that changed since its last write,
all in one transaction, so a burst of events (DTMF, attribute changes, many calls) costs one
write, not one per event. The gate, the job's first handler, holds each event until a claim
with its seq (or a later one) is written: no handler sees seq N unless the claim says N, so a
resumed call goes on at claim seq + 1 and never repeats a seq a handler or receiver already
has (webhook ids and the call log's timeline go by it). The price: one write round trip of
latency per burst; a job killed after `track` but before delivery leaves a gap in the seqs,
never a repeat. The gate waits at most `GATE_WAIT_S` (a database outage must not stall every
call's delivery: the claim is then older than what handlers have, which a warning says).
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ..database.migrate import migrated_engine
from ..events import CallEvent
from ..tracker import CallState
from .claims import Claims
from .config import FleetConfig
from .schema import FLEET

GATE_WAIT_S = 1.0
RELEASED_REMEMBERED = 10_000
"""Released calls remembered, so a late event (an action's result after the end) does not
write its claim again."""

_Waiter = tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]


class ClaimWriter:
    def __init__(self, config: FleetConfig, logger: Any) -> None:
        self._config = config
        self._log = logger
        self._claims: Claims | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pending: dict[str, CallState] = {}
        self._releases: list[str] = []
        self._released: OrderedDict[str, None] = OrderedDict()
        self._written: dict[str, int] = {}
        self._waiters: dict[str, list[_Waiter]] = {}
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="sip-agent-claims", daemon=True)
        self._thread.start()

    # -- from jobs (any thread) -----------------------------------------------------------

    def track(self, state: CallState) -> None:
        key = state.call.key
        with self._lock:
            if key in self._released:
                return
            self._pending[key] = state
        self._wake.set()

    def release(self, keys: list[str]) -> None:
        """These calls ended and their events were delivered: remove their claims."""
        with self._lock:
            for key in keys:
                self._released[key] = None
                self._written.pop(key, None)
            while len(self._released) > RELEASED_REMEMBERED:
                self._released.popitem(last=False)
            self._releases.extend(keys)
        self._wake.set()

    async def written(self, key: str, seq: int, timeout: float) -> bool:
        """Wait until the call's claim holds `seq` (or later); False after `timeout`."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._written.get(key, 0) >= seq or key in self._released:
                return True
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(key, []).append((seq, loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return False
        return True

    # -- the writing thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self._config.heartbeat_s if self._failing else None)
            self._wake.clear()
            with self._lock:
                pending, self._pending = self._pending, {}
                releases, self._releases = self._releases, []
            if pending or releases:
                self._flush(pending, releases)

    def _flush(self, pending: dict[str, CallState], releases: list[str]) -> None:
        try:
            if self._claims is None:
                self._claims = Claims(migrated_engine(self._config.db_url, FLEET))
            if pending:
                self._claims.write(self._config.worker_id, list(pending.values()))
            if releases:
                self._claims.release(releases)
        except Exception as exc:
            with self._lock:  # kept, newer states first, and retried
                self._pending = {**pending, **self._pending}
                self._releases[:0] = releases
            if not self._failing:
                self._log.warning(
                    "call claims not written; retried",
                    error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    retry_s=self._config.heartbeat_s,
                )
            self._failing = True
            return
        self._failing = False
        self._done(pending)

    def _done(self, written: Mapping[str, CallState]) -> None:
        with self._lock:
            for key, state in written.items():
                if key in self._released:
                    continue
                self._written[key] = max(self._written.get(key, 0), state.seq)
                waiters = self._waiters.pop(key, [])
                later = [w for w in waiters if w[0] > state.seq]
                if later:
                    self._waiters[key] = later
                for seq, loop, future in waiters:
                    if seq <= state.seq:
                        loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_writers: dict[tuple[str, str], ClaimWriter] = {}
_writers_lock = threading.Lock()


def writer_for(config: FleetConfig, logger: Any) -> ClaimWriter:
    """This process's writer for the worker `config` names (made on first use)."""
    with _writers_lock:
        key = (config.db_url, config.worker_id)
        writer = _writers.get(key)
        if writer is None:
            writer = _writers[key] = ClaimWriter(config, logger)
        return writer


class ClaimGate:
    """The job's first handler: an event goes on once its call's claim holds its seq."""

    name = "fleet"

    def __init__(self, writer: ClaimWriter, logger: Any) -> None:
        self._writer = writer
        self._log = logger
        self._late: set[str] = set()

    async def handle(self, event: CallEvent) -> None:
        key = event.call.key
        if await self._writer.written(key, event.seq, GATE_WAIT_S) or key in self._late:
            return
        self._late.add(key)
        self._log.warning(
            "call claim not written in time; events delivered ahead of it",
            call_id=event.call_id,
            call_key=key,
            seq=event.seq,
            waited_s=GATE_WAIT_S,
        )

    async def aclose(self) -> None:
        return None

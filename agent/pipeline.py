"""Delivery of call events to handlers: ordered per call, isolated, bounded in time.

Room callbacks are synchronous, so they only `submit`; one consumer task per call with
pending events delivers them to every handler in turn. A handler that raises is logged
and skipped; one that overruns the timeout is cancelled by a watchdog (one timer for the
whole pipeline instead of one per handler call, which keeps the hot path cheap).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .events import CallEvent
from .handlers.base import Handler

# Backlog of one call at which an operator hears about a slow handler (events are kept).
BACKLOG_WARNING = 1000


class Observer(Protocol):
    """Told how each handler call went (metrics); called on the hot path, so keep it cheap."""

    def handled(self, handler: str, event_type: str, seconds: float, failed: bool) -> None: ...


@dataclass(eq=False, slots=True)
class _CallQueue:
    call_id: str
    events: deque[CallEvent] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    running: Handler | None = None
    step: int = 0
    """Counts handler calls; the watchdog times a step from when it first sees it."""
    watched_step: int = -1
    watched_since: float = 0.0
    timed_out: bool = False
    warned_backlog: bool = False


class Pipeline:
    def __init__(
        self,
        handlers: Sequence[Handler],
        *,
        timeout: float,
        logger: Any,
        observer: Observer | None = None,
    ) -> None:
        self.handlers = tuple(handlers)
        self._timeout = timeout
        self._log = logger
        self._observer = observer
        self._queues: dict[str, _CallQueue] = {}
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False

    def submit(self, events: Iterable[CallEvent]) -> None:
        """Queue events for delivery; never blocks and never drops."""
        for event in events:
            if self._closed:
                self._log.error(
                    "event after pipeline closed", call_id=event.call_id, type=event.type
                )
                continue
            queue = self._queues.get(event.call_id)
            if queue is None:
                queue = self._queues[event.call_id] = _CallQueue(event.call_id)
            queue.events.append(event)
            if len(queue.events) >= BACKLOG_WARNING and not queue.warned_backlog:
                queue.warned_backlog = True
                self._log.warning(
                    "handler backlog", call_id=event.call_id, pending=len(queue.events)
                )
            if queue.task is None:
                queue.task = asyncio.get_running_loop().create_task(self._consume(queue))
                if self._watchdog is None:
                    self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    async def drain(self) -> None:
        """Return once every event submitted so far reached every handler."""
        while tasks := [q.task for q in self._queues.values() if q.task is not None]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Deliver what is queued, then close the handlers. Later events are refused."""
        await self.drain()
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        for handler in self.handlers:
            try:
                async with asyncio.timeout(self._timeout):
                    await handler.aclose()
            except Exception as exc:  # a broken handler must not stop the others closing
                self._log.warning("handler close failed", handler=handler.name, error=repr(exc))

    async def _consume(self, queue: _CallQueue) -> None:
        task = asyncio.current_task()
        assert task is not None
        events = queue.events
        observer = self._observer
        ended = False
        while events:
            event = events.popleft()
            for handler in self.handlers:
                queue.running = handler
                queue.step += 1
                failed = True
                started = time.perf_counter() if observer is not None else 0.0
                try:
                    await handler.handle(event)
                    failed = False
                except asyncio.CancelledError:
                    if not queue.timed_out:
                        raise
                except Exception as exc:
                    self._log.error(
                        "handler failed",
                        handler=handler.name,
                        call_id=event.call_id,
                        room=event.call.room,
                        event_type=event.type,
                        seq=event.seq,
                        error=repr(exc),
                        exc_info=exc,
                    )
                if observer is not None:
                    # A timeout counts as a failure: the handler did not do its work.
                    elapsed = time.perf_counter() - started
                    observer.handled(handler.name, event.type, elapsed, failed or queue.timed_out)
                if queue.timed_out:
                    # The watchdog's cancel landed in this handler (or it swallowed it).
                    queue.timed_out = False
                    while task.cancelling():
                        task.uncancel()
                    self._log.warning(
                        "handler timed out",
                        handler=handler.name,
                        call_id=event.call_id,
                        event_type=event.type,
                        seq=event.seq,
                        timeout_s=self._timeout,
                    )
            queue.running = None
            ended = event.type == "call.ended"
        # No await between the empty check and here: submit() sees task None and restarts.
        queue.task = None
        if ended:
            del self._queues[queue.call_id]

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        interval = min(self._timeout / 4, 0.25)
        # Only while some handler works: a live call between events costs no wake-ups (a
        # worker carrying hundreds of quiet calls must not tick for each of them).
        while any(queue.task is not None for queue in self._queues.values()):
            await asyncio.sleep(interval)
            now = loop.time()
            for queue in list(self._queues.values()):
                if queue.running is None or queue.task is None or queue.timed_out:
                    continue
                # A handler call is timed from the first tick that sees it running, so the
                # hot path only counts steps: the cut comes after timeout .. timeout+interval.
                if queue.step != queue.watched_step:
                    queue.watched_step, queue.watched_since = queue.step, now
                elif now - queue.watched_since >= self._timeout:
                    queue.timed_out = True
                    queue.task.cancel()
        # Idle pipelines cost no timer; the next submit() starts the watchdog again.
        self._watchdog = None

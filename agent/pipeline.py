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
    call_key: str
    events: deque[CallEvent] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    event: CallEvent | None = None
    """The event being delivered, and the index of the handler it goes to next."""
    next_handler: int = 0
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
            queue = self._queues.get(event.call.key)
            if queue is None:
                queue = self._queues[event.call.key] = _CallQueue(event.call.key)
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
        """Return once every event submitted so far reached every handler (or was left
        behind by one that ignored its cancel: its consumer is replaced, so look again)."""
        while tasks := {q.task for q in self._queues.values() if q.task is not None}:
            await asyncio.wait(tasks, timeout=self._timeout, return_when=asyncio.FIRST_COMPLETED)

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
        handlers = self.handlers
        observer = self._observer
        ended = False
        while queue.event is not None or events:
            if queue.event is None:
                queue.event, queue.next_handler = events.popleft(), 0
            event = queue.event
            while queue.next_handler < len(handlers):
                handler = handlers[queue.next_handler]
                queue.next_handler += 1
                queue.running = handler
                queue.step += 1
                failed = True
                started = time.perf_counter() if observer is not None else 0.0
                try:
                    await handler.handle(event)
                    failed = False
                except asyncio.CancelledError:
                    if queue.task is not task:
                        return
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
                if queue.task is not task:
                    return  # abandoned by the watchdog: a consumer of its own took over
                if observer is not None:
                    # A timeout counts as a failure: the handler did not do its work.
                    elapsed = time.perf_counter() - started
                    observer.handled(handler.name, event.type, elapsed, failed or queue.timed_out)
                if queue.timed_out:
                    # The watchdog's cancel landed in this handler (or it swallowed it).
                    queue.timed_out = False
                    while task.cancelling():
                        task.uncancel()
                    self._timed_out(handler, event, abandoned=False)
            queue.running = queue.event = None
            ended = event.type == "call.ended"
        # No await between the empty check and here: submit() sees task None and restarts.
        queue.task = None
        if ended:
            del self._queues[queue.call_key]

    def _timed_out(self, handler: Handler, event: CallEvent, *, abandoned: bool) -> None:
        self._log.warning(
            "handler ignored its cancel, left behind" if abandoned else "handler timed out",
            handler=handler.name,
            call_id=event.call_id,
            event_type=event.type,
            seq=event.seq,
            timeout_s=self._timeout,
        )

    def _abandon(self, queue: _CallQueue) -> None:
        """The handler swallowed its cancel and still runs a timeout later: the call goes on
        without waiting for it, from the next handler, in a consumer of its own."""
        assert queue.running is not None and queue.event is not None
        self._timed_out(queue.running, queue.event, abandoned=True)
        if self._observer is not None:
            self._observer.handled(queue.running.name, queue.event.type, self._timeout, True)
        queue.timed_out = False
        queue.running = None
        queue.task = asyncio.get_running_loop().create_task(self._consume(queue))

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        interval = min(self._timeout / 4, 0.25)
        # Only while some handler works: a live call between events costs no wake-ups (a
        # worker carrying hundreds of quiet calls must not tick for each of them).
        while any(queue.task is not None for queue in self._queues.values()):
            await asyncio.sleep(interval)
            now = loop.time()
            for queue in list(self._queues.values()):
                if queue.running is None or queue.task is None:
                    continue
                # A handler call is timed from the first tick that sees it running, so the
                # hot path only counts steps: the cut comes after timeout .. timeout+interval.
                if queue.step != queue.watched_step:
                    queue.watched_step, queue.watched_since = queue.step, now
                elif not queue.timed_out and now - queue.watched_since >= self._timeout:
                    queue.timed_out = True
                    queue.task.cancel()
                elif queue.timed_out and now - queue.watched_since >= 2 * self._timeout:
                    self._abandon(queue)
        # Idle pipelines cost no timer; the next submit() starts the watchdog again.
        self._watchdog = None

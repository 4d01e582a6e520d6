"""Deliver each room's FFI events to that room only, instead of to every room in the process.

The SDK puts every event from the native library on one `FfiQueue`, whose `put` wakes every
subscriber: every connected `rtc.Room` gets every other room's events and drops them after
a handle check in its listen task. With N rooms in a process each event costs N cross-thread
wake-ups and N task switches, so the work per event grows with the calls a worker carries
(measured in benchmarks/BENCHMARKS.md). Here the queue is replaced, once per process, by one
that sends a room event straight to the queue of the room whose handle it names, once that
room was registered with `route(room)`; everything else (request callbacks, RPC, logs,
events of rooms not registered) still goes to every subscriber, as before, with one
exception: the answers to `connect` and `disconnect` requests are only awaited on queues
subscribed for that request (`Room.connect`/`disconnect`), never by a room's listen task, so
they skip the routed rooms. Every job connects and disconnects once; broadcasting those to
every room made a burst of N calls cost N x N wake-ups (seen stalling a worker at ~150 calls).

Private SDK names relied on (livekit 1.1.21, pinned by livekit-agents; tests/test_capacity_ffi
checks they are still there): `FfiClient._queue`, `FfiQueue._lock`, `FfiQueue._subscribers`,
`Room._ffi_queue`, `Room._ffi_handle`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from livekit import rtc
from livekit.rtc._ffi_client import FfiClient, FfiQueue
from livekit.rtc._proto import ffi_pb2
from livekit.rtc._utils import Queue

logger = logging.getLogger(__name__)

Event = ffi_pb2.FfiEvent
# Request answers no room's listen task ever waits for (see the module docstring).
REQUEST_ONLY_ANSWERS = frozenset({"connect", "disconnect"})


class RoutedFfiQueue(FfiQueue[Event]):
    """An FfiQueue that sends events of a registered room handle to that room's queue only."""

    def __init__(self) -> None:
        super().__init__()
        self._routes: dict[int, tuple[Queue[Event], asyncio.AbstractEventLoop]] = {}

    def put(self, item: Event) -> None:
        which = item.WhichOneof("message")
        if which == "room_event":
            route = self._routes.get(item.room_event.room_handle)
            if route is not None:
                queue, loop = route
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                except RuntimeError:  # the room's loop closed under it: nobody to tell
                    logger.debug("room event for a closed loop dropped")
                return
        if which in REQUEST_ONLY_ANSWERS and self._routes:
            self._put_skipping_routed(item)
            return
        super().put(item)

    def _put_skipping_routed(self, item: Event) -> None:
        """FfiQueue.put for every subscriber but the routed rooms' own queues."""
        with self._lock:
            routed = {id(queue) for queue, _ in self._routes.values()}
            for queue, loop, filter_fn in self._subscribers:
                if id(queue) in routed or (filter_fn is not None and not filter_fn(item)):
                    continue
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                except RuntimeError:
                    logger.debug("request answer for a closed loop dropped")

    def route(self, handle: int, queue: Queue[Event]) -> None:
        with self._lock:
            for subscribed, loop, _ in self._subscribers:
                if subscribed is queue:
                    self._routes[handle] = (queue, loop)
                    return

    def unsubscribe(self, queue: Queue[Event]) -> None:
        with self._lock:
            for handle in [h for h, (q, _) in self._routes.items() if q is queue]:
                del self._routes[handle]
            super().unsubscribe(queue)

    @property
    def routed(self) -> int:
        """Rooms whose events are routed (for tests and benchmarks)."""
        return len(self._routes)


def install() -> RoutedFfiQueue:
    """Replace this process's FFI queue (idempotent). Call before rooms connect."""
    client = FfiClient.instance
    current: Any = client._queue
    if isinstance(current, RoutedFfiQueue):
        return current
    routed = RoutedFfiQueue()
    with current._lock:
        routed._subscribers = list(current._subscribers)
        client._queue = routed
    return routed


def route(room: rtc.Room) -> None:
    """Send the events of this connected room to it alone from now on."""
    queue: Queue[Event] | None = getattr(room, "_ffi_queue", None)
    handle = getattr(room, "_ffi_handle", None)
    if queue is None or handle is None:
        return  # not connected: its events keep going to everyone, which is still correct
    install().route(handle.handle, queue)

"""The glue to the Python SDK's FFI: fake handles and async ids, and events fed through the
SDK's genuine C callback, so they travel FFI queue -> a Room's listen task ->
``Room._on_room_event`` -> public events, exactly like events from a server.

Private SDK names used (checked against livekit 1.1.21): ``_ffi_client.ffi_event_callback``,
``Room._task`` and ``Room._room_queue``.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import sys
from typing import Any, TypeVar

from google.protobuf.message import Message
from livekit import rtc
from livekit.rtc import _ffi_client
from livekit.rtc._proto import ffi_pb2 as proto_ffi
from livekit.rtc._proto import room_pb2 as proto_room
from livekit.rtc._proto import track_pb2 as proto_track

# Fake ids live far above the native counters (which start at 1), so they never collide
# with a real handle or async id created by native requests made while installed.
_FAKE_HANDLE_BASE = 1 << 52
_FAKE_ASYNC_BASE = 1 << 53
handle_ids = itertools.count(_FAKE_HANDLE_BASE)
async_ids = itertools.count(_FAKE_ASYNC_BASE)


def deliver(event: proto_ffi.FfiEvent) -> None:
    """Feed an event through the SDK's genuine C callback, as the native library would."""
    data = event.SerializeToString()  # raises if a required field was left out
    buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    _ffi_client.ffi_event_callback(buf, len(data))


def room_event(handle: int, **message: Any) -> proto_ffi.FfiEvent:
    return proto_ffi.FfiEvent(room_event=proto_room.RoomEvent(room_handle=handle, **message))


def send(handle: int, **message: Any) -> None:
    """Deliver one room event to the Room connected under ``handle``."""
    deliver(room_event(handle, **message))


_M = TypeVar("_M", proto_ffi.FfiEvent, proto_ffi.FfiResponse)


def oneof(container: _M, which: str, value: Message) -> _M:
    """Set the ``which`` member of an FfiEvent/FfiResponse oneof to ``value``."""
    getattr(container, which).CopyFrom(value)
    return container


def calling_room() -> rtc.Room | None:
    """The rtc.Room whose connect() made the current FFI request (found on the stack)."""
    frame = sys._getframe(1)
    for _ in range(8):
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, rtc.Room):
            return candidate
        if frame.f_back is None:
            break
        frame = frame.f_back
    return None


def listening(room: rtc.Room) -> bool:
    """Whether the Room's listen task still takes events (connected, not yet at its end)."""
    task: asyncio.Task[None] | None = getattr(room, "_task", None)
    return task is not None and not task.done()


async def processed(rooms: list[rtc.Room]) -> None:
    """Return once each listening Room has processed every event delivered so far.

    A marker event goes through the FFI queue after them; each Room's listen task hands
    every event it finished to its ``_room_queue``, so seeing the marker there means all
    earlier events (and their synchronous callbacks) are done. Tasks that callbacks spawn
    are not awaited.
    """
    if not rooms:
        return
    marker_id = next(async_ids)
    waits = []
    for room in rooms:
        # subscribe before the marker is sent, so it cannot be missed
        queue = room._room_queue.subscribe()
        waits.append(_wait_marker(room, queue, room._task, marker_id))
    deliver(proto_ffi.FfiEvent(get_stats=proto_track.GetStatsCallback(async_id=marker_id)))
    await asyncio.gather(*waits)


async def _wait_marker(room: rtc.Room, queue: Any, task: Any, marker_id: int) -> None:
    """Wait until ``room``'s listen task passed the marker on, or ended (end of stream)."""

    async def see_marker() -> None:
        while True:
            event = await queue.get()
            queue.task_done()  # the listen task joins this queue after every event
            if event.WhichOneof("message") == "get_stats" and event.get_stats.async_id == marker_id:
                return

    seen = asyncio.ensure_future(see_marker())
    try:
        await asyncio.wait({seen, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        seen.cancel()
        room._room_queue.unsubscribe(queue)

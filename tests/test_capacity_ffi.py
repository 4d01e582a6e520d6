"""FFI routing: each room's events reach that room only, and nothing else changes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from livekit import rtc
from livekit.rtc._ffi_client import FfiClient, FfiQueue

from agent import ffi_routing
from agent.standin import FakeLiveKit

NO_SUBSCRIBE = rtc.RoomOptions(auto_subscribe=False)


@pytest.fixture
def livekit() -> Iterator[FakeLiveKit]:
    with FakeLiveKit() as fake:
        yield fake


async def connect(livekit: FakeLiveKit, room_name: str) -> rtc.Room:
    room = rtc.Room()
    token = livekit.token(room_name, "agent", kind="agent", agent=True)
    await room.connect("ws://localhost:7880", token, NO_SUBSCRIBE)
    return room


def joined(room: rtc.Room) -> list[str]:
    seen: list[str] = []
    room.on("participant_connected", lambda p: seen.append(p.identity))
    return seen


def test_the_private_sdk_names_relied_on_are_still_there() -> None:
    """FfiClient._queue, FfiQueue._lock/_subscribers and Room._ffi_queue/_ffi_handle exist."""
    queue = FfiQueue[object]()
    assert hasattr(queue, "_lock")
    assert isinstance(queue._subscribers, list)
    assert isinstance(FfiClient.instance._queue, FfiQueue)
    room_source = rtc.Room.connect.__code__.co_names
    assert "_ffi_queue" in room_source
    assert "_ffi_handle" in room_source


async def test_routed_rooms_get_their_own_events_and_nobody_else_does(
    livekit: FakeLiveKit,
) -> None:
    """After route(), a room event goes to its room's queue only; callbacks still go to all."""
    queue = ffi_routing.install()
    room_a, room_b = await connect(livekit, "a"), await connect(livekit, "b")
    ffi_routing.route(room_a)
    ffi_routing.route(room_b)
    spy = queue.subscribe()
    seen_a, seen_b = joined(room_a), joined(room_b)

    livekit.room("a").join("sip_a")
    livekit.room("b").join("sip_b")
    await livekit.room("a").settle()
    await livekit.room("b").settle()

    assert seen_a == ["sip_a"]
    assert seen_b == ["sip_b"]
    spied = [spy.get_nowait() for _ in range(spy.qsize())]
    assert not [e for e in spied if e.WhichOneof("message") == "room_event"]
    assert [e for e in spied if e.WhichOneof("message") == "get_stats"]  # settle's markers
    queue.unsubscribe(spy)
    await room_a.disconnect()
    await room_b.disconnect()


async def test_a_disconnected_room_is_no_longer_routed(livekit: FakeLiveKit) -> None:
    """Disconnecting unsubscribes the room's queue, which drops its route."""
    queue = ffi_routing.install()
    before = queue.routed
    room = await connect(livekit, "gone")
    ffi_routing.route(room)
    assert queue.routed == before + 1
    await room.disconnect()
    assert queue.routed == before


async def test_install_keeps_existing_subscribers(livekit: FakeLiveKit) -> None:
    """A room connected before install() still gets its events afterwards."""
    room = await connect(livekit, "early")
    seen = joined(room)
    ffi_routing.install()
    livekit.room("early").join("sip_early")
    await livekit.room("early").settle()
    assert seen == ["sip_early"]
    await room.disconnect()


async def test_route_ignores_a_room_that_never_connected() -> None:
    """A room with no handle keeps the SDK's default delivery."""
    queue = ffi_routing.install()
    before = queue.routed
    ffi_routing.route(rtc.Room())
    assert queue.routed == before


async def test_connect_and_disconnect_answers_skip_routed_rooms() -> None:
    """A job's connect answer is awaited on its own request queue, never by other rooms:
    routed rooms are spared it, so a burst of N jobs costs N wake-ups, not N x N."""
    queue = ffi_routing.RoutedFfiQueue()
    room_queue, request_queue = queue.subscribe(), queue.subscribe()
    queue.route(7, room_queue)

    for which in ("connect", "disconnect", "publish_sip_dtmf"):
        answer = ffi_routing.Event()
        getattr(answer, which).async_id = 1
        queue.put(answer)
    room_event = ffi_routing.Event()
    room_event.room_event.room_handle = 7
    queue.put(room_event)
    await asyncio.sleep(0)

    def drained(q: Any) -> list[str]:
        return [str(q.get_nowait().WhichOneof("message")) for _ in range(q.qsize())]

    assert drained(request_queue) == ["connect", "disconnect", "publish_sip_dtmf"]
    assert drained(room_queue) == ["publish_sip_dtmf", "room_event"]

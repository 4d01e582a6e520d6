"""FakeLiveKit drives a real rtc.Room (and a real JobContext) through the real FFI event path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from livekit import rtc
from livekit.agents import AutoSubscribe, JobContext, get_job_context

from agent.standin import FakeLiveKit, FakeRoom, run_job

EVENTS = (
    "participant_connected",
    "participant_active",
    "participant_attributes_changed",
    "participant_disconnected",
    "sip_dtmf_received",
    "connection_state_changed",
    "disconnected",
    "reconnecting",
    "reconnected",
)
NO_SUBSCRIBE = rtc.RoomOptions(auto_subscribe=False)


@pytest.fixture
def livekit() -> Iterator[FakeLiveKit]:
    fake = FakeLiveKit()
    with fake:
        yield fake


def record(room: rtc.Room) -> list[tuple[str, tuple[Any, ...]]]:
    events: list[tuple[str, tuple[Any, ...]]] = []

    def recorder(name: str) -> Callable[..., None]:
        return lambda *args: events.append((name, args))

    for name in EVENTS:
        room.on(name, recorder(name))  # type: ignore[arg-type]
    return events


def names(events: list[tuple[str, tuple[Any, ...]]]) -> list[str]:
    return [name for name, _ in events]


async def connect(livekit: FakeLiveKit, room_name: str, identity: str = "agent") -> rtc.Room:
    room = rtc.Room()
    token = livekit.token(room_name, identity, kind="agent", agent=True)
    await room.connect("ws://localhost:7880", token, NO_SUBSCRIBE)
    return room


async def test_initial_sip_participant_is_seen_on_connect(livekit: FakeLiveKit) -> None:
    """A caller already in the room is a remote participant with its kind and attributes."""
    livekit.room("call").join("sip_+15550100", attributes={"sip.callStatus": "ringing"})
    room = await connect(livekit, "call")
    caller = room.remote_participants["sip_+15550100"]
    assert caller.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP
    assert caller.attributes == {"sip.callStatus": "ringing"}
    assert caller.state == rtc.ParticipantState.PARTICIPANT_STATE_ACTIVE
    assert room.name == "call" and room.local_participant.identity == "agent"
    assert room.local_participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
    await room.disconnect()


async def test_later_join_gives_connected_then_active(livekit: FakeLiveKit) -> None:
    """A participant joining after the connect arrives as participant_connected + _active."""
    room = await connect(livekit, "call")
    events = record(room)
    livekit.room("call").join("sip_1", kind="SIP", attributes={"sip.callID": "SCL_1"})
    await livekit.room("call").settle()
    assert names(events) == ["participant_connected", "participant_active"]
    participant = events[0][1][0]
    assert participant.identity == "sip_1" and participant.attributes == {"sip.callID": "SCL_1"}
    await room.disconnect()


async def test_attribute_changes_report_changed_and_deleted_keys(livekit: FakeLiveKit) -> None:
    """set_attributes gives the changed entries (deleted ones empty) and the new full set."""
    fake = livekit.room("call")
    fake.join("sip_1", attributes={"sip.callStatus": "ringing", "sip.h.x-old": "1"})
    room = await connect(livekit, "call")
    events = record(room)
    fake.set_attributes("sip_1", {"sip.callStatus": "active", "sip.h.x-old": None, "same": None})
    await fake.settle()
    assert names(events) == ["participant_attributes_changed"]
    changed, participant = events[0][1]
    assert changed == {"sip.callStatus": "active", "sip.h.x-old": ""}
    assert participant.attributes == {"sip.callStatus": "active"}
    assert fake.participants()["sip_1"].attributes == {"sip.callStatus": "active"}
    await room.disconnect()


async def test_dtmf_arrives_as_sip_dtmf_received(livekit: FakeLiveKit) -> None:
    """dtmf gives sip_dtmf_received with the digit, its RFC 4733 code and the participant."""
    fake = livekit.room("call")
    fake.join("sip_1")
    room = await connect(livekit, "call")
    events = record(room)
    fake.dtmf("sip_1", "#")
    fake.dtmf("sip_1", "5", code=5)
    await fake.settle()
    received = [args[0] for _, args in events]
    assert [(d.digit, d.code) for d in received] == [("#", 11), ("5", 5)]
    assert received[0].participant is room.remote_participants["sip_1"]
    await room.disconnect()


async def test_leave_gives_disconnect_reason(livekit: FakeLiveKit) -> None:
    """leave gives participant_disconnected carrying the named disconnect reason."""
    fake = livekit.room("call")
    fake.join("sip_1")
    room = await connect(livekit, "call")
    events = record(room)
    fake.leave("sip_1", "USER_REJECTED")
    await fake.settle()
    assert names(events) == ["participant_disconnected"]
    assert events[0][1][0].disconnect_reason == rtc.DisconnectReason.USER_REJECTED
    assert room.remote_participants == {} and fake.participants() == {}
    await room.disconnect()


async def test_delete_disconnects_room_without_participant_events(livekit: FakeLiveKit) -> None:
    """delete ends the agent's room with ROOM_DELETED and no participant_disconnected."""
    fake = livekit.room("call")
    fake.join("sip_1")
    room = await connect(livekit, "call")
    events = record(room)
    fake.delete()
    await fake.settle()
    assert events == [
        ("connection_state_changed", (rtc.ConnectionState.CONN_DISCONNECTED,)),
        ("disconnected", (rtc.DisconnectReason.ROOM_DELETED,)),
    ]
    assert not room.isconnected()
    await room.disconnect()  # a no-op once the server closed the room, as with a real one


async def test_restart_connection_plays_a_real_server_restart(livekit: FakeLiveKit) -> None:
    """As livekit-server 1.13.5 restarted under a call: reconnecting, the caller gone with no
    reason, reconnected with nobody in the room; `rejoin` brings it back with a new sid."""
    fake = livekit.room("call")
    fake.join("sip_1", attributes={"sip.callID": "SCL_1"})
    room = await connect(livekit, "call")
    first_sid = room.remote_participants["sip_1"].sid
    events = record(room)
    fake.restart_connection()
    await fake.settle()
    assert names(events) == [
        "connection_state_changed",
        "reconnecting",
        "participant_disconnected",
        "connection_state_changed",
        "reconnected",
    ]
    # the SDK reports UNKNOWN_REASON as None
    assert events[2][1][0].disconnect_reason is None
    assert room.remote_participants == {}
    fake.set_attributes("sip_1", {"tier": "gold"})  # while away: never seen
    fake.rejoin()
    await fake.settle()
    assert names(events)[5:] == ["participant_connected", "participant_active"]
    back = room.remote_participants["sip_1"]
    assert back.sid != first_sid
    assert back.attributes == {"sip.callID": "SCL_1"}  # what it joined with
    assert room.connection_state == rtc.ConnectionState.CONN_CONNECTED
    await room.disconnect()


async def test_rooms_are_isolated(livekit: FakeLiveKit) -> None:
    """Events for one room never reach a Room connected to another."""
    room_a, room_b = await connect(livekit, "a"), await connect(livekit, "b")
    events_a, events_b = record(room_a), record(room_b)
    livekit.room("a").join("sip_a")
    await livekit.room("a").settle()
    await livekit.room("b").settle()
    assert names(events_a) == ["participant_connected", "participant_active"]
    assert events_b == [] and room_b.remote_participants == {}
    await room_a.disconnect()
    await room_b.disconnect()


async def test_bad_token_is_a_connect_error(livekit: FakeLiveKit) -> None:
    """A token not signed with the server's secret fails the connect like a server would."""
    forged = FakeLiveKit(api_secret="another-secret").token("call", "agent")
    with pytest.raises(rtc.ConnectError):
        await rtc.Room().connect("ws://localhost:7880", forged, NO_SUBSCRIBE)
    with pytest.raises(rtc.ConnectError):
        await rtc.Room().connect("ws://localhost:7880", "not-a-jwt", NO_SUBSCRIBE)


async def test_local_attributes_are_echoed_to_the_room(livekit: FakeLiveKit) -> None:
    """The agent's own set_attributes and publish_dtmf are answered like a server would."""
    room = await connect(livekit, "call")
    events = record(room)
    await room.local_participant.set_attributes({"state": "listening"})
    await room.local_participant.publish_dtmf(code=1, digit="1")
    await livekit.room("call").settle()
    assert events == [
        ("participant_attributes_changed", ({"state": "listening"}, room.local_participant))
    ]
    assert room.local_participant.attributes == {"state": "listening"}
    await room.disconnect()


async def test_unsupported_request_names_itself(livekit: FakeLiveKit) -> None:
    """A room request the fake does not answer fails loudly, naming the FFI request."""
    room = await connect(livekit, "call")
    with pytest.raises(RuntimeError, match="get_session_stats"):
        await room.get_rtc_stats()
    await room.disconnect()


async def test_uninstall_closes_rooms_left_connected() -> None:
    """Rooms still connected at uninstall are closed as by a server shutdown."""
    with FakeLiveKit() as fake:
        room = await connect(fake, "call")
        closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        room.on("disconnected", closed.set_result)
    assert await asyncio.wait_for(closed, 5) == rtc.DisconnectReason.SERVER_SHUTDOWN
    assert not room.isconnected()


def test_install_is_exclusive_and_repeatable() -> None:
    """Only one fake is installed at a time; install/uninstall can be repeated."""
    for _ in range(2):
        with FakeLiveKit() as fake:
            with pytest.raises(RuntimeError):
                FakeLiveKit().install()
            assert isinstance(fake.room("x"), FakeRoom)


async def test_run_job_connects_sees_callers_and_shuts_down(livekit: FakeLiveKit) -> None:
    """A job entrypoint connects with SUBSCRIBE_NONE, sees callers, and ctx.shutdown ends it."""
    fake = livekit.room("call")
    fake.join("sip_1", attributes={"sip.callStatus": "active"})
    seen: list[str] = []
    shutdown_reasons: list[str] = []
    ready = asyncio.Event()

    async def on_participant(ctx: JobContext, participant: rtc.RemoteParticipant) -> None:
        seen.append(participant.identity)
        if len(seen) == 2:
            ready.set()

    async def entrypoint(ctx: JobContext) -> None:
        assert get_job_context() is ctx
        ctx.add_participant_entrypoint(on_participant)

        async def on_shutdown(reason: str) -> None:
            shutdown_reasons.append(reason)

        ctx.add_shutdown_callback(on_shutdown)
        await ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE)
        caller = await ctx.wait_for_participant(identity="sip_1")
        assert caller.attributes == {"sip.callStatus": "active"}

    job = await run_job(livekit, entrypoint, room="call")
    fake.join("sip_2")
    await asyncio.wait_for(ready.wait(), 5)
    assert seen == ["sip_1", "sip_2"]
    job.ctx.shutdown("call handled")
    assert await job.wait() == "call handled"
    assert shutdown_reasons == ["call handled"]
    assert not job.ctx.room.isconnected()
    assert fake.rooms() == []


async def test_job_ends_when_the_room_is_deleted(livekit: FakeLiveKit) -> None:
    """Deleting the room disconnects the job's room, which ends the job."""
    connected = asyncio.Event()

    async def entrypoint(ctx: JobContext) -> None:
        await ctx.connect(auto_subscribe=AutoSubscribe.SUBSCRIBE_NONE)
        connected.set()

    job = await run_job(livekit, entrypoint, room="call")
    await asyncio.wait_for(connected.wait(), 5)
    job.room.delete()
    assert await job.wait() == "room disconnected"


async def test_job_ends_on_external_shutdown(livekit: FakeLiveKit) -> None:
    """JobRun.shutdown ends the job like a worker shutdown, even if the entrypoint waits."""
    reasons: list[str] = []

    async def entrypoint(ctx: JobContext) -> None:
        ctx.add_shutdown_callback(lambda: _append(reasons, "called"))
        await ctx.wait_for_participant()

    job = await run_job(livekit, entrypoint, room="call")
    job.room.join("sip_1")
    await job.room.settle()
    job.shutdown()
    assert await job.wait() == "parent process shutdown"
    assert reasons == ["called"]


async def _append(items: list[str], item: str) -> None:
    items.append(item)

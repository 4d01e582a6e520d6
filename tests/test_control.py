"""Call control in a real job: the real livekit-api client against the Twirp stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from livekit import rtc

from agent.control import CallControl, control
from agent.events import CallEvent
from agent.settings import load_settings
from agent.standin import (
    Delay,
    FakeLiveKit,
    TwirpError,
    TwirpServer,
    room_answers,
    room_effects,
    server_error,
    sip_error,
)
from agent.testing.harness import OneJob

KEY, SECRET = "devkey", "secret-of-at-least-32-bytes-for-hs256"
ROOM = "call-room"
CALLER = {
    "sip.callID": "SCL_in",
    "sip.callStatus": "ringing",
    "sip.phoneNumber": "+15557654321",
    "sip.trunkPhoneNumber": "+15550100000",
    "sip.trunkID": "ST_in",
    "sip.ruleID": "SDR_1",
    "sip.h.x-tier": "gold",
}
RPC_PAYLOAD = '{"headers": {"X-Reason": "done"}}'


@pytest.fixture
def livekit() -> Iterator[FakeLiveKit]:
    with FakeLiveKit(api_key=KEY, api_secret=SECRET) as fake:
        yield fake


@pytest.fixture
async def twirp(
    livekit: FakeLiveKit, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TwirpServer]:
    async with TwirpServer(
        KEY, SECRET, on_success=room_effects(livekit), responder=room_answers(livekit)
    ) as server:
        monkeypatch.setenv("LIVEKIT_URL", server.url)
        monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
        monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
        yield server


async def start(
    livekit: FakeLiveKit, *handlers: Any, rules: Path | None = None, **settings: Any
) -> OneJob:
    """One job on ROOM with the handlers under test (and the router when rules are given)."""
    worker = OneJob(
        livekit,
        ROOM,
        load_settings(
            handlers=("router",) if rules else (),
            rules=rules,
            action_timeout_s=settings.pop("action_timeout_s", 2.0),
            hangup_grace_s=0.2,
            **settings,
        ),
        handlers,
    )
    await worker.start()
    return worker


def on(type_: str, act: Callable[[CallControl], Coroutine[Any, Any, object]]) -> Any:
    """A handler running `act` in the background of the job for each event of a type."""

    async def handler(event: CallEvent) -> None:
        if event.type == type_ and event.call.identity == "caller":
            ctl = control(event)
            ctl.background(act(ctl))

    return handler


async def test_two_hangups_make_one_request(livekit: FakeLiveKit, twirp: TwirpServer) -> None:
    """Hangup twice at once: one RemoveParticipant; the call ends canceled by the agent."""

    async def twice(ctl: CallControl) -> None:
        await asyncio.gather(ctl.hangup(), ctl.hangup())

    worker = await start(livekit, on("call.started", twice))
    livekit.room(ROOM).join("caller", attributes=CALLER)
    (ended,) = await worker.until("call.ended")
    assert twirp.sent("RoomService/RemoveParticipant") == [{"room": ROOM, "identity": "caller"}]
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "canceled",
        "agent",
        "PARTICIPANT_REMOVED",
    )
    assert await worker.job.wait() == "all calls ended"


async def test_action_on_ended_call_is_refused(
    livekit: FakeLiveKit, twirp: TwirpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A transfer asked for after the call ended sends nothing and says why."""
    worker = await start(livekit, on("call.ended", lambda ctl: ctl.transfer("tel:+1555")))
    room = livekit.room(ROOM)
    room.join("caller", attributes=CALLER)
    await worker.until("call.started")
    room.leave("caller")
    await worker.job.wait()
    assert twirp.requests == []
    assert "call action refused" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "code", "reason"),
    [(sip_error(603), 603, "Decline"), (server_error(503), None, "LiveKit answered 503")],
)
async def test_failed_transfer_is_an_event(
    livekit: FakeLiveKit, twirp: TwirpServer, answer: Any, code: int | None, reason: str
) -> None:
    """603 or 5xx: `call.transfer_failed` with the SIP status; the call goes on."""
    twirp.script("SIP/TransferSIPParticipant", answer)
    worker = await start(livekit, on("call.started", lambda ctl: ctl.transfer("tel:+15551230000")))
    livekit.room(ROOM).join("caller", attributes=CALLER)
    (failed,) = await worker.until("call.transfer_failed")
    assert (failed.to, failed.sip_status_code) == ("tel:+15551230000", code)
    assert failed.reason.startswith(reason)
    livekit.room(ROOM).leave("caller")
    await worker.until("call.ended")
    assert worker.types() == ["call.started", "call.transfer_failed", "call.ended"]


async def test_transfer_success(livekit: FakeLiveKit, twirp: TwirpServer) -> None:
    """A transfer LiveKit accepts: the exact REFER request and `call.transfer_succeeded`."""
    worker = await start(
        livekit,
        on(
            "call.started",
            lambda ctl: ctl.transfer(
                "sip:desk@pbx.example", play_dialtone=True, headers={"X-Why": "vip"}
            ),
        ),
    )
    livekit.room(ROOM).join("caller", attributes=CALLER)
    (done,) = await worker.until("call.transfer_succeeded")
    assert done.to == "sip:desk@pbx.example"
    assert twirp.sent("SIP/TransferSIPParticipant") == [
        {
            "room_name": ROOM,
            "participant_identity": "caller",
            "transfer_to": "sip:desk@pbx.example",
            "play_dialtone": True,
            "headers": {"X-Why": "vip"},
            "ringing_timeout": "30s",
        }
    ]
    worker.job.shutdown()
    await worker.job.wait()


@pytest.mark.parametrize(
    ("answer", "outcome", "code"),
    [
        (sip_error(486), "busy", 486),
        (sip_error(603), "busy", 603),
        (sip_error(480), "no-answer", 480),
        (Delay(1.0), "no-answer", None),
        # LiveKit gave up ringing, or its INVITE got no answer: 408 with no SIP status.
        (TwirpError(408, "canceled", "sip request timed out"), "no-answer", None),
        (server_error(500, "boom"), "failed", None),
    ],
)
async def test_failed_dial_is_a_call_that_ended(
    livekit: FakeLiveKit, twirp: TwirpServer, answer: Any, outcome: str, code: int | None
) -> None:
    """A dial that fails before its participant joins: started, action_failed, ended."""
    twirp.script("SIP/CreateSIPParticipant", answer)

    async def dial(ctl: CallControl) -> None:
        await ctl.dial("+15550002222", trunk="ST_out", identity="callee", wait_until_answered=False)

    worker = await start(livekit, on("call.started", dial), action_timeout_s=0.3)
    livekit.room(ROOM).join("caller", attributes=CALLER)
    (ended,) = await worker.until("call.ended")
    assert worker.types("callee") == ["call.started", "call.action_failed", "call.ended"]
    failed = worker.of("call.action_failed")[0]
    assert (failed.action, failed.sip_status_code) == ("dial", code)
    assert (ended.outcome, ended.sip_status_code, ended.call.direction) == (
        outcome,
        code,
        "outbound",
    )
    assert ended.call.to_number == "+15550002222"
    # The caller's call is untouched by the dial's failure.
    assert worker.types("SCL_in") == ["call.started"]
    livekit.room(ROOM).leave("caller")
    assert await worker.job.wait() == "all calls ended"


async def test_dial_joins_and_is_tracked(livekit: FakeLiveKit, twirp: TwirpServer) -> None:
    """A dial LiveKit answers: the exact request, then the callee is a call like any other."""

    async def dial(ctl: CallControl) -> None:
        await ctl.dial(
            "+15550002222",
            trunk="ST_out",
            from_number="+15550100000",
            identity="callee",
            attributes={"campaign": "c7"},
            ringing_timeout=20,
        )

    worker = await start(livekit, on("call.started", dial))
    livekit.room(ROOM).join("caller", attributes=CALLER)
    await worker.until("call.answered")
    assert twirp.sent("SIP/CreateSIPParticipant") == [
        {
            "room_name": ROOM,
            "sip_trunk_id": "ST_out",
            "sip_call_to": "+15550002222",
            "sip_number": "+15550100000",
            "participant_identity": "callee",
            "participant_attributes": {"campaign": "c7"},
            "wait_until_answered": True,
            "ringing_timeout": "20s",
        }
    ]
    assert worker.types("SCL_callee") == ["call.started", "call.answered"]
    worker.job.shutdown()
    await worker.job.wait()


async def test_dial_busy_after_joining_carries_sip_status(
    livekit: FakeLiveKit, twirp: TwirpServer
) -> None:
    """The callee joined dialing, left USER_REJECTED, then the dial answered 486: one end."""
    room = livekit.room(ROOM)

    twirp.script("SIP/CreateSIPParticipant", Delay(0.3, sip_error(486)))

    async def dial(ctl: CallControl) -> None:
        task = asyncio.ensure_future(ctl.dial("+15550002222", trunk="ST_out", identity="callee"))
        await twirp.received("SIP/CreateSIPParticipant")
        room.join("callee", attributes={"sip.callStatus": "dialing", "sip.callID": "SCL_out"})
        await room.settle()
        room.leave("callee", "USER_REJECTED")
        await task

    worker = await start(livekit, on("call.started", dial))
    room.join("caller", attributes=CALLER)
    (ended,) = await worker.until("call.ended")
    assert worker.types("SCL_out") == ["call.started", "call.action_failed", "call.ended"]
    assert (ended.outcome, ended.disconnect_reason, ended.sip_status_code) == (
        "busy",
        "USER_REJECTED",
        486,
    )
    worker.job.shutdown()
    await worker.job.wait()


async def test_dial_answer_before_the_callee_leaves(
    livekit: FakeLiveKit, twirp: TwirpServer
) -> None:
    """The real order of a failed dial (seen on the real SIP service): the callee joined and
    rang, the request fails, and only then does the room see the callee leave. The room's
    reason wins over what the error suggests (here nothing: no SIP status)."""
    room = livekit.room(ROOM)
    twirp.script("SIP/CreateSIPParticipant", Delay(0.3, server_error(503, "sip call failed")))

    async def dial(ctl: CallControl) -> None:
        await ctl.dial("+15550002222", trunk="ST_out", identity="callee")

    async def join_and_ring(event: CallEvent) -> None:
        if event.type == "call.started" and event.call.identity == "caller":
            room.join("callee", attributes={"sip.callStatus": "ringing", "sip.callID": "SCL_out"})

    worker = await start(livekit, on("call.started", dial), join_and_ring)
    room.join("caller", attributes=CALLER)
    await worker.until("call.action_failed")
    assert worker.of("call.ended") == []  # waiting for the room to say why
    room.leave("callee", "USER_REJECTED")
    (ended,) = await worker.until("call.ended")
    assert worker.types("SCL_out") == ["call.started", "call.action_failed", "call.ended"]
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "busy",
        "callee",
        "USER_REJECTED",
    )
    worker.job.shutdown()
    await worker.job.wait()


async def test_connection_refused_is_reported(
    livekit: FakeLiveKit, twirp: TwirpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No LiveKit API reachable: `call.action_failed`, and the call is still tracked."""
    monkeypatch.setenv("LIVEKIT_URL", "http://127.0.0.1:9")
    worker = await start(livekit, on("call.started", lambda ctl: ctl.dispatch_agent("support")))
    livekit.room(ROOM).join("caller", attributes=CALLER)
    (failed,) = await worker.until("call.action_failed")
    assert failed.action == "dispatch_agent"
    assert "ClientConnectorError" in failed.error
    # The caller gives up while it rings: a CANCEL writes `hangup` before the disconnect.
    livekit.room(ROOM).set_attributes("caller", {"sip.callStatus": "hangup"})
    livekit.room(ROOM).leave("caller")
    (ended,) = await worker.until("call.ended")
    assert ended.outcome == "canceled"
    await worker.job.wait()


async def test_attributes_dtmf_and_dispatch(livekit: FakeLiveKit, twirp: TwirpServer) -> None:
    """set_attributes updates the participant (seen as call.updated); dispatch and DTMF go out."""
    sent_dtmf: list[tuple[int, str]] = []
    acted = asyncio.Event()

    async def act(ctl: CallControl) -> None:
        local = ctl.job.room.local_participant

        async def publish_dtmf(*, code: int, digit: str) -> None:
            sent_dtmf.append((code, digit))

        local.publish_dtmf = publish_dtmf  # type: ignore[method-assign]
        assert await ctl.set_attributes({"queue": "billing"})
        assert await ctl.dispatch_agent("support-agent", '{"k": 1}') is not None
        assert await ctl.send_dtmf("1#")
        acted.set()

    worker = await start(livekit, on("call.started", act))
    livekit.room(ROOM).join("caller", attributes=CALLER)
    (updated,) = await worker.until("call.updated")
    assert updated.added == {"queue": "billing"}
    await asyncio.wait_for(acted.wait(), 5)
    assert twirp.sent("AgentDispatchService/CreateDispatch") == [
        {"agent_name": "support-agent", "room": ROOM, "metadata": '{"k": 1}'}
    ]
    assert sent_dtmf == [(1, "1"), (11, "#")]
    worker.job.shutdown()
    await worker.job.wait()


@pytest.mark.parametrize("rpc", ["supported", "unsupported", "failing"])
async def test_hangup_with_bye_headers(livekit: FakeLiveKit, twirp: TwirpServer, rpc: str) -> None:
    """Headers go by lk.sip.EndCall where the SIP service has it, else (no such method, or it
    fails) by RemoveParticipant. Either way the end is the agent's: after EndCall LiveKit
    sends the BYE, writes `hangup` and the caller leaves CLIENT_INITIATED, before the RPC
    even answers (seen on the real SIP service), as if the caller had hung up."""
    rpcs: list[dict[str, Any]] = []

    async def hang_up(ctl: CallControl) -> None:
        async def perform_rpc(**request: Any) -> str:
            rpcs.append(request)
            if rpc == "unsupported":
                raise rtc.RpcError(rtc.RpcError.ErrorCode.UNSUPPORTED_METHOD, "unsupported")
            if rpc == "failing":
                raise rtc.RpcError(rtc.RpcError.ErrorCode.APPLICATION_ERROR, "no dialog")
            livekit.room(ROOM).set_attributes("caller", {"sip.callStatus": "hangup"})
            livekit.room(ROOM).leave("caller", "CLIENT_INITIATED")
            await livekit.room(ROOM).settle()
            return ""

        ctl.job.room.local_participant.perform_rpc = perform_rpc  # type: ignore[method-assign]
        await ctl.hangup(headers={"X-Reason": "done"})

    worker = await start(livekit, on("call.answered", hang_up))
    livekit.room(ROOM).join("caller", attributes=CALLER | {"sip.callStatus": "active"})
    await worker.job.wait()
    assert rpcs == [
        {"destination_identity": "caller", "method": "lk.sip.EndCall", "payload": RPC_PAYLOAD}
    ]
    removed = twirp.sent("RoomService/RemoveParticipant")
    assert removed == ([] if rpc == "supported" else [{"room": ROOM, "identity": "caller"}])
    (ended,) = worker.of("call.ended")
    reason = "CLIENT_INITIATED" if rpc == "supported" else "PARTICIPANT_REMOVED"
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "completed",
        "agent",
        reason,
    )
    assert worker.of("call.action_failed") == []


async def test_hangup_all_deletes_the_room_once(livekit: FakeLiveKit, twirp: TwirpServer) -> None:
    """Two hangup_all: one DeleteRoom; the call ends ROOM_DELETED, by the agent."""

    async def twice(ctl: CallControl) -> None:
        await asyncio.gather(ctl.hangup_all(), ctl.hangup_all())

    worker = await start(livekit, on("call.started", twice))
    livekit.room(ROOM).join("caller", attributes=CALLER)
    await worker.job.wait()
    assert twirp.sent("RoomService/DeleteRoom") == [{"room": ROOM}]
    (ended,) = worker.of("call.ended")
    assert (ended.disconnect_reason, ended.ended_by) == ("ROOM_DELETED", "agent")


@pytest.mark.parametrize("termination_first", [False, True])
async def test_room_deleted_under_a_call_is_room_deleted(
    livekit: FakeLiveKit, twirp: TwirpServer, termination_first: bool
) -> None:
    """Deleting the room ends the call ROOM_DELETED / agent, also when LiveKit's job
    termination reaches the job before the room's own disconnect (seen on a real server)."""
    worker = await start(livekit)
    livekit.room(ROOM).join("caller", attributes=CALLER | {"sip.callStatus": "active"})
    await worker.until("call.answered")
    if termination_first:
        livekit.room(ROOM).delete(tell_rooms=False)
        worker.job.shutdown("job terminated by LiveKit")
    else:
        livekit.room(ROOM).delete()
    (ended,) = await worker.until("call.ended")
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "completed",
        "agent",
        "ROOM_DELETED",
    )
    await worker.job.wait()


async def test_worker_shutdown_under_a_call_is_job_ended(
    livekit: FakeLiveKit, twirp: TwirpServer
) -> None:
    """The job ends under a live call while its room still exists: JOB_ENDED / system."""
    worker = await start(livekit)
    livekit.room(ROOM).join("caller", attributes=CALLER | {"sip.callStatus": "active"})
    await worker.until("call.answered")
    worker.job.shutdown("worker draining")
    (ended,) = await worker.until("call.ended")
    assert (ended.ended_by, ended.disconnect_reason) == ("system", "JOB_ENDED")
    # Still listed: asked again, a little later, before it counts as the job's end.
    assert twirp.sent("RoomService/ListRooms") == [{"names": [ROOM]}] * 3
    await worker.job.wait()

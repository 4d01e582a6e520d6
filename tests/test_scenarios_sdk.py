"""The worker's entrypoint, unchanged, on a real rtc.Room and JobContext fed LiveKit's events.

Each test plays what LiveKit's SIP service does in one situation and asserts the ordered
call events every handler received, and how the job ended.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from agent.events import CallStatusChanged, CallUpdated
from agent.settings import load_settings
from agent.standin import FakeLiveKit, Recorder
from agent.testing.harness import OneJob

API_SECRET = "test-secret-0123456789abcdef0123456789"
TWILIO_INBOUND = {
    "sip.callID": "SCL_in1",
    "sip.callIDFull": "a84b4c76e66710@pc33.twilio.com",
    "sip.callTag": "1928301774",
    "sip.callStatus": "ringing",
    "sip.phoneNumber": "+15551230001",
    "sip.trunkPhoneNumber": "+15559870002",
    "sip.hostname": "54.172.60.0",
    "sip.trunkID": "ST_twilio",
    "sip.ruleID": "SDR_main",
    "sip.twilio.accountSid": "AC0123",
    "sip.twilio.callSid": "CA7f3e",
}
OUTBOUND = {
    "sip.callID": "SCL_out1",
    "sip.callStatus": "dialing",
    "sip.phoneNumber": "+15557770003",
    "sip.trunkPhoneNumber": "+15559870002",
    "sip.trunkID": "ST_out",
}


@pytest.fixture
def livekit() -> Iterator[FakeLiveKit]:
    with FakeLiveKit(api_secret=API_SECRET) as fake:
        yield fake


class Call(OneJob):
    """One job on one room, with the worker's real entrypoint and a recording handler."""

    def __init__(self, livekit: FakeLiveKit, room: str, **overrides: Any) -> None:
        settings = load_settings(
            log_format="json", hangup_grace_s=0.2, reconnect_grace_s=2.0, **overrides
        )
        super().__init__(livekit, room, settings)

    async def twilio_call_caller_hangs_up(self, identity: str = "sip_+15551230001") -> str:
        """The everyday call: ringing, answered, the caller's BYE. Returns how the job ended."""
        self.room.join(identity, attributes=TWILIO_INBOUND)
        await self.settle()
        self.room.set_attributes(identity, {"sip.callStatus": "active"})
        await self.settle()
        self.room.set_attributes(identity, {"sip.callStatus": "hangup"})
        self.room.leave(identity, "CLIENT_INITIATED")
        return await self.ended()


@pytest.fixture
async def call(livekit: FakeLiveKit) -> AsyncIterator[Call]:
    scenario = Call(livekit, "call-room")
    yield scenario
    if scenario.started and not scenario.job.done:
        scenario.job.shutdown("test over")
        await scenario.job.wait()


@pytest.fixture
def recorder(call: Call) -> Recorder:
    return call.recorder


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


async def test_inbound_twilio_call_answered_then_caller_hangs_up(
    call: Call, recorder: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """The everyday call: ringing, active, the caller's BYE; the job ends after delivery."""
    await call.start()
    assert await call.twilio_call_caller_hangs_up() == "all calls ended"
    assert recorder.types() == [
        "call.started",
        "call.status_changed",
        "call.answered",
        "call.status_changed",
        "call.ended",
    ]
    assert [e.seq for e in recorder.events] == [1, 2, 3, 4, 5]
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "completed",
        "caller",
        "CLIENT_INITIATED",
    )
    assert ended.last_status == "hangup" and ended.call.twilio_call_sid == "CA7f3e"
    logged = [line for line in log_lines(capsys) if line.get("logger") == "sip-agent"]
    assert [line["event"] for line in logged] == recorder.types()
    assert all(line["twilio_call_sid"] == "CA7f3e" for line in logged)
    assert logged[-1]["outcome"] == "completed" and logged[-1]["from"] == "********0001"


async def test_inbound_caller_gives_up_while_ringing(call: Call, recorder: Recorder) -> None:
    await call.start()
    call.room.join("sip_caller", attributes=TWILIO_INBOUND)
    await call.settle()
    call.room.set_attributes("sip_caller", {"sip.callStatus": "hangup"})
    call.room.leave("sip_caller", "CLIENT_INITIATED")
    await call.ended()
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by) == ("canceled", "caller")
    assert ended.talk_s == 0 and "call.answered" not in recorder.types()


async def test_outbound_busy(call: Call, recorder: Recorder) -> None:
    """A failed outbound call writes no status: the participant just leaves, USER_REJECTED."""
    await call.start()
    call.room.join("sip_+15557770003", attributes=OUTBOUND)
    await call.settle()
    call.room.leave("sip_+15557770003", "USER_REJECTED")
    await call.ended()
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by, ended.last_status) == ("busy", "callee", "dialing")
    assert ended.call.direction == "outbound" and ended.call.to_number == "+15557770003"


async def test_outbound_no_answer(call: Call, recorder: Recorder) -> None:
    await call.start()
    call.room.join("sip_callee", attributes=OUTBOUND)
    await call.settle()
    call.room.set_attributes("sip_callee", {"sip.callStatus": "ringing"})
    await call.settle()
    call.room.leave("sip_callee", "USER_UNAVAILABLE")
    await call.ended()
    assert recorder.types() == ["call.started", "call.status_changed", "call.ended"]
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by) == ("no-answer", "callee")


async def test_outbound_answered_then_agent_removes_participant(
    call: Call, recorder: Recorder
) -> None:
    """No `hangup` is written when the agent hangs up: PARTICIPANT_REMOVED says it."""
    await call.start()
    call.room.join("sip_callee", attributes=OUTBOUND)
    await call.settle()
    call.room.set_attributes("sip_callee", {"sip.callStatus": "active"})
    await call.settle()
    call.room.leave("sip_callee", "PARTICIPANT_REMOVED")
    await call.ended()
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by, ended.last_status) == ("completed", "agent", "active")


async def test_hangup_after_the_disconnect_ends_once(call: Call, recorder: Recorder) -> None:
    """The disconnect wins the race; the `hangup` status that follows changes nothing."""
    await call.start()
    call.room.join("sip_caller", attributes=TWILIO_INBOUND | {"sip.callStatus": "active"})
    await call.settle()
    call.room.leave("sip_caller", "CLIENT_INITIATED")
    await call.ended()
    assert recorder.types() == ["call.started", "call.answered", "call.ended"]
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by) == ("completed", "caller")


async def test_hangup_without_disconnect_ends_after_grace(call: Call, recorder: Recorder) -> None:
    """When the disconnect never comes, `hangup` alone ends the call as a remote hangup."""
    await call.start()
    call.room.join("sip_caller", attributes=TWILIO_INBOUND | {"sip.callStatus": "active"})
    await call.settle()
    call.room.set_attributes("sip_caller", {"sip.callStatus": "hangup"})
    await call.ended()
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "completed",
        "caller",
        "CLIENT_INITIATED",
    )


async def test_twilio_call_sid_arriving_late(call: Call, recorder: Recorder) -> None:
    """On outbound calls the CallSid comes with the 18x/200, as an attribute change."""
    await call.start()
    call.room.join("sip_callee", attributes=OUTBOUND)
    await call.settle()
    call.room.set_attributes(
        "sip_callee",
        {
            "sip.callStatus": "ringing",
            "sip.twilio.callSid": "CA_late",
            "sip.twilio.accountSid": "AC1",
        },
    )
    await call.settle()
    call.room.set_attributes("sip_callee", {"sip.callStatus": "active"})
    await call.settle()
    call.room.leave("sip_callee", "CLIENT_INITIATED")
    await call.ended()
    updated = [e for e in recorder.events if isinstance(e, CallUpdated)]
    assert updated[0].added == {"sip.twilio.callSid": "CA_late", "sip.twilio.accountSid": "AC1"}
    assert recorder.events[0].call.twilio_call_sid is None
    assert recorder.ended()[0].call.twilio_call_sid == "CA_late"
    assert recorder.ended()[0].ended_by == "callee"


async def test_call_already_in_room_when_job_starts(call: Call, recorder: Recorder) -> None:
    call.room.join("sip_caller", attributes=TWILIO_INBOUND | {"sip.callStatus": "active"})
    await call.start()
    await call.delivered(2)
    assert recorder.types() == ["call.started", "call.answered"]
    call.room.leave("sip_caller", "CLIENT_INITIATED")
    await call.ended()
    assert recorder.types()[-1] == "call.ended"


async def test_two_calls_in_one_room_job_ends_after_both(call: Call, recorder: Recorder) -> None:
    await call.start()
    call.room.join("sip_a", attributes=TWILIO_INBOUND | {"sip.callID": "SCL_a"})
    call.room.join("sip_b", attributes=OUTBOUND | {"sip.callID": "SCL_b"})
    await call.settle()
    call.room.set_attributes("sip_a", {"sip.callStatus": "hangup"})
    call.room.leave("sip_a", "CLIENT_INITIATED")
    await call.settle()
    assert not call.job.done
    call.room.set_attributes("sip_b", {"sip.callStatus": "active"})
    await call.settle()
    call.room.leave("sip_b", "PARTICIPANT_REMOVED")
    await call.ended()
    assert recorder.types("SCL_a") == ["call.started", "call.status_changed", "call.ended"]
    assert recorder.types("SCL_b") == [
        "call.started",
        "call.status_changed",
        "call.answered",
        "call.ended",
    ]
    assert [(e.call_id, e.outcome) for e in recorder.ended()] == [
        ("SCL_a", "canceled"),
        ("SCL_b", "completed"),
    ]


async def test_room_deleted_under_live_call(call: Call, recorder: Recorder) -> None:
    """LiveKit sends only the agent's own `disconnected(ROOM_DELETED)`: every call ends by it."""
    await call.start()
    call.room.join("sip_caller", attributes=TWILIO_INBOUND | {"sip.callStatus": "active"})
    await call.settle()
    call.room.delete()
    await call.ended()
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "completed",
        "agent",
        "ROOM_DELETED",
    )


async def test_job_ending_under_a_call_ends_it_as_system(call: Call, recorder: Recorder) -> None:
    """Worker shutdown mid-call: the call still gets its one `call.ended`, by `system`."""
    job = await call.start()
    call.room.join("sip_caller", attributes=TWILIO_INBOUND)
    await call.settle()
    job.shutdown("worker draining")
    assert await call.ended() == "worker draining"
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "failed",
        "system",
        "JOB_ENDED",
    )


async def test_agent_connection_restart_mid_call(call: Call, recorder: Recorder) -> None:
    """Participants reported gone during the agent's reconnect and announced again after it
    (new sid): still one call."""
    await call.start()
    call.room.join("sip_caller", attributes=TWILIO_INBOUND | {"sip.callStatus": "active"})
    await call.settle()
    call.room.restart_connection()
    await call.settle()
    call.room.rejoin()
    await call.settle()
    call.room.dtmf("sip_caller", "5")
    await call.settle()
    await call.delivered(3)
    assert recorder.types() == ["call.started", "call.answered", "call.dtmf"]
    call.room.leave("sip_caller", "CLIENT_INITIATED")
    await call.ended()
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by) == ("completed", "caller")
    assert recorder.types().count("call.started") == 1


async def test_resumed_call_keeps_what_it_had(call: Call, recorder: Recorder) -> None:
    """Back after a server restart, the participant carries its join-time attributes only
    (status `ringing`, none added later): the call stays answered and keeps what it knew."""
    await call.start()
    call.room.join("sip_callee", attributes=OUTBOUND)
    await call.settle()
    call.room.set_attributes("sip_callee", {"sip.callStatus": "active", "sip.callTag": "t1"})
    await call.settle()
    call.room.restart_connection()
    await call.settle()
    call.room.rejoin()
    await call.settle()
    call.room.set_attributes("sip_callee", {"sip.twilio.callSid": "CA_late"})
    await call.settle()
    call.room.set_attributes("sip_callee", {"sip.callStatus": "hangup"})
    call.room.leave("sip_callee", "CLIENT_INITIATED")
    await call.ended()
    assert recorder.types() == [
        "call.started",
        "call.status_changed",
        "call.answered",
        "call.updated",
        "call.updated",
        "call.status_changed",
        "call.ended",
    ]
    late = recorder.events[4]
    assert isinstance(late, CallUpdated)
    assert (late.added, late.removed) == ({"sip.twilio.callSid": "CA_late"}, ())
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by) == ("completed", "callee")
    assert ended.call.sip_call_tag == "t1"


async def test_reconnect_grace_counts_from_reconnected(call: Call, recorder: Recorder) -> None:
    """A reconnect that takes longer than the grace does not end the call: the grace starts
    when the connection is back, and the caller comes back after that (real timeline)."""
    call.settings = call.settings.model_copy(update={"reconnect_grace_s": 0.3})
    await call.start()
    call.room.join("sip_caller", attributes=TWILIO_INBOUND | {"sip.callStatus": "active"})
    await call.settle()
    (room,) = call.room.rooms()
    room.emit("reconnecting")
    call.room.leave("sip_caller", "UNKNOWN_REASON")
    await call.settle()
    await asyncio.sleep(0.6)  # the connection is down longer than the grace
    room.emit("reconnected")
    call.room.join("sip_caller", attributes=TWILIO_INBOUND | {"sip.callStatus": "active"})
    await call.settle()
    await asyncio.sleep(0.6)  # and the grace after `reconnected` has run out
    assert recorder.ended() == []
    call.room.leave("sip_caller", "CLIENT_INITIATED")
    await call.ended()
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by) == ("completed", "caller")
    assert recorder.types().count("call.started") == 1


async def test_call_gone_for_good_after_reconnect_ends_after_grace(
    call: Call, recorder: Recorder
) -> None:
    """A participant not announced again once the room is back is really gone."""
    await call.start()
    call.room.join("sip_caller", attributes=TWILIO_INBOUND | {"sip.callStatus": "active"})
    await call.settle()
    (room,) = call.room.rooms()
    room.emit("reconnecting")
    call.room.leave("sip_caller", "UNKNOWN_REASON")
    await call.settle()
    room.emit("reconnected")
    assert recorder.ended() == []
    await call.ended()
    (ended,) = recorder.ended()
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "completed",
        "system",
        "UNKNOWN_REASON",
    )


async def test_unknown_status_value_is_kept_and_warned(
    call: Call, recorder: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    await call.start()
    call.room.join("sip_caller", attributes=TWILIO_INBOUND)
    await call.settle()
    call.room.set_attributes("sip_caller", {"sip.callStatus": "on-hold"})
    await call.settle()
    call.room.set_attributes("sip_caller", {"sip.callStatus": "hangup"})
    call.room.leave("sip_caller", "CLIENT_INITIATED")
    await call.ended()
    change = next(e for e in recorder.events if isinstance(e, CallStatusChanged))
    assert change.status is None and change.raw == "on-hold"
    (ended,) = recorder.ended()
    assert ended.outcome == "canceled"
    warnings = [line for line in log_lines(capsys) if line["level"] == "warning"]
    assert any(
        w["event"] == "unknown call status" and w["raw_status"] == "on-hold" for w in warnings
    )


async def test_64_kib_header_value(
    call: Call, recorder: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """A huge header is cut, logged short, and the call goes on normally."""
    await call.start()
    big = "x" * 65536
    call.room.join("sip_caller", attributes=TWILIO_INBOUND | {"sip.h.x-big": big})
    await call.settle()
    call.room.set_attributes("sip_caller", {"sip.h.x-big": "y" * 65536})
    await call.settle()
    call.room.leave("sip_caller", "CLIENT_INITIATED")
    await call.ended()
    assert recorder.types() == ["call.started", "call.updated", "call.ended"]
    header = recorder.events[0].call.headers["x-big"]
    assert header.startswith("xxx") and header.endswith("[truncated]") and len(header) < 5000
    for line in capsys.readouterr().out.splitlines():
        assert len(line) < 2000


async def test_dtmf_only_from_the_calls_participant(call: Call, recorder: Recorder) -> None:
    await call.start()
    call.room.join("sip_caller", attributes=TWILIO_INBOUND | {"sip.callStatus": "active"})
    call.room.join("web_user", kind="STANDARD")
    await call.settle()
    call.room.dtmf("sip_caller", "#")
    call.room.dtmf("web_user", "1")
    await call.settle()
    call.room.leave("sip_caller", "CLIENT_INITIATED")
    await call.ended()
    dtmf = [e for e in recorder.events if e.type == "call.dtmf"]
    assert [(e.digit, e.code) for e in dtmf] == [("#", 11)]  # type: ignore[union-attr]


async def test_non_sip_participants_are_not_calls(call: Call, recorder: Recorder) -> None:
    """Identity means nothing: a `sip_`-named web user is no call, an oddly named SIP one is."""
    await call.start()
    call.room.join("sip_lookalike", kind="STANDARD", attributes={"sip.callID": "SCL_fake"})
    call.room.join("caller-42", attributes=OUTBOUND)
    await call.settle()
    call.room.leave("caller-42", "USER_REJECTED")
    await call.ended()
    assert {e.call.identity for e in recorder.events} == {"caller-42"}


async def test_job_without_any_call_ends_itself(livekit: FakeLiveKit) -> None:
    scenario = Call(livekit, "empty-room")
    scenario.settings = scenario.settings.model_copy(update={"no_call_timeout_s": 0.2})
    await scenario.start()
    assert await scenario.ended() == "all calls ended"
    assert scenario.recorder.events == []

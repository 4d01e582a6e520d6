"""The shipped routing rules, end to end: a real job, the real router, the real API client."""

from __future__ import annotations

import json
from pathlib import Path

from agent.standin import FakeLiveKit, TwirpServer, sip_error
from tests.test_control import CALLER, ROOM, livekit, start, twirp

EXAMPLE = Path(__file__).parent.parent / "examples" / "routing.toml"
__all__ = ["livekit", "twirp"]  # fixtures shared with test_control


async def test_agent_dispatched_transfer_declined_then_hung_up(
    livekit: FakeLiveKit, twirp: TwirpServer
) -> None:
    """Inbound gold caller: agent dispatched, answered, transfer 603, hung up; one call.ended."""
    twirp.script("SIP/TransferSIPParticipant", sip_error(603))
    worker = await start(livekit, rules=EXAMPLE)
    room = livekit.room(ROOM)
    room.join("caller", attributes=CALLER)
    await worker.until("call.started")
    room.set_attributes("caller", {"sip.callStatus": "active"})
    await worker.job.wait()

    assert worker.types() == [
        "call.started",
        "call.status_changed",
        "call.answered",
        "call.transfer_failed",
        "call.ended",
    ]
    assert [e.seq for e in worker.recorder.events] == [1, 2, 3, 4, 5]
    failed, ended = worker.recorder.events[3], worker.recorder.events[4]
    assert (failed.sip_status_code, failed.reason) == (603, "Decline")
    assert (ended.outcome, ended.ended_by, ended.disconnect_reason) == (
        "completed",
        "agent",
        "PARTICIPANT_REMOVED",
    )
    assert [r.method for r in twirp.requests] == [
        "AgentDispatchService/CreateDispatch",
        "SIP/TransferSIPParticipant",
        "RoomService/RemoveParticipant",
    ]
    dispatch, transfer, remove = (r.body for r in twirp.requests)
    assert dispatch["agent_name"] == "support-agent"
    assert json.loads(dispatch["metadata"]) == {"x-tier": "gold"}
    assert (transfer["transfer_to"], transfer["play_dialtone"]) == ("tel:+15551230000", True)
    assert remove == {"room": ROOM, "identity": "caller"}


async def test_blocked_caller_is_hung_up(livekit: FakeLiveKit, twirp: TwirpServer) -> None:
    """A caller on the block list is removed at once; no agent is dispatched."""
    worker = await start(livekit, rules=EXAMPLE)
    livekit.room(ROOM).join("caller", attributes={**CALLER, "sip.phoneNumber": "+19005550100"})
    await worker.job.wait()
    assert worker.types() == ["call.started", "call.ended"]
    assert [r.method for r in twirp.requests] == ["RoomService/RemoveParticipant"]

"""The room deleted under live, answered SIP calls (DeleteRoom): every call ends once,
completed / agent / ROOM_DELETED, and every phone gets LiveKit's BYE.

LiveKit terminates the agent's job when it deletes the room, and that can reach the job
before the room's own `disconnected(ROOM_DELETED)`; sometimes the SIP participant's
`participant_disconnected(ROOM_DELETED)` comes first. Whichever way it goes, the reason
must be the room's: the runs repeat to meet each order.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
from livekit import api

from .calls import wait_started
from .provision import NUMBER, inbound_trunk_request
from .records import Record, where
from .repeat import runs
from .room import join
from .sipp import Phone, SippCall, caller_keys
from .stack import Stack
from .worker import AGENT_NAME, Worker

pytestmark = pytest.mark.live
SCENARIO = "caller_awaits_livekit_bye"
"""Answered, streams audio, and exits 0 only once LiveKit's BYE came (and got its 200)."""


def event_types(worker: Worker, call_id: str) -> list[str]:
    return [r["event"] for r in worker.events(call_id=call_id)]


def assert_ended_by_the_deletion(worker: Worker, ended: Record) -> None:
    """One call.ended, the room's reason, and nothing after it."""
    assert (ended["outcome"], ended["ended_by"], ended["disconnect_reason"]) == (
        "completed",
        "agent",
        "ROOM_DELETED",
    ), ended
    assert ended["talk_s"] > 0, ended
    seen = event_types(worker, ended["call_id"])
    assert seen[0] == "call.started" and seen[-1] == "call.ended", seen
    assert seen.count("call.started") == 1, seen
    assert seen.count("call.answered") == 1, seen
    assert seen.count("call.ended") == 1, seen


async def delete_room(lkapi: api.LiveKitAPI, room: str) -> None:
    await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))


@pytest.mark.parametrize("run", runs(10))
async def test_room_deleted_under_an_answered_call(
    run: int, live_stack: Stack, live_worker: Worker, phone: Phone, lkapi: api.LiveKitAPI
) -> None:
    keys = caller_keys(NUMBER)
    async with phone.call(SCENARIO, **keys) as sipp:
        started = await wait_started(sipp, live_worker, keys, 60)
        call_id, room = started["call_id"], started["room"]
        async with join(live_stack, room) as guest:
            await guest.publish_tone()
            await sipp.meanwhile(live_worker.wait_for_event("call.answered", 60, call_id=call_id))
            await delete_room(lkapi, room)
            result = await sipp.wait()
            assert result.returncode == 0, f"no BYE for the phone: {result.describe()}"
            ended = await live_worker.wait_for_event("call.ended", 60, call_id=call_id)
            # The job ends once every event of the room reached every handler.
            await live_stack.events.agent_left(room, 60)

    assert_ended_by_the_deletion(live_worker, ended)
    assert live_worker.proc.poll() is None, "the worker died"


# --- two calls in one room -----------------------------------------------------------------


@asynccontextmanager
async def shared_room_line(lkapi: api.LiveKitAPI) -> AsyncIterator[tuple[str, str]]:
    """A number of this run's own whose calls all land in one room (a direct dispatch rule)
    with the session's worker dispatched to it; yields (number, room). Removed after."""
    number = f"+1510556{secrets.randbelow(10_000):04d}"
    room = f"shared-{uuid.uuid4().hex[:12]}"
    trunk = await lkapi.sip.create_inbound_trunk(inbound_trunk_request([number]))
    rule = api.CreateSIPDispatchRuleRequest(
        dispatch_rule=api.SIPDispatchRuleInfo(
            name=f"sip-agent live tests: one room for {number}",
            trunk_ids=[trunk.sip_trunk_id],
            rule=api.SIPDispatchRule(
                dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name=room)
            ),
            room_config=api.RoomConfiguration(
                agents=[api.RoomAgentDispatch(agent_name=AGENT_NAME)]
            ),
        )
    )
    created = await lkapi.sip.create_dispatch_rule(rule)
    try:
        yield number, room
    finally:
        await lkapi.sip.delete_dispatch_rule(
            api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=created.sip_dispatch_rule_id)
        )
        await lkapi.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=trunk.sip_trunk_id))


@pytest.mark.parametrize("run", runs(6))
async def test_room_deleted_under_two_answered_calls(
    run: int, live_stack: Stack, live_worker: Worker, phone: Phone, lkapi: api.LiveKitAPI
) -> None:
    async with shared_room_line(lkapi) as (number, room), AsyncExitStack() as calls:
        # Two callers from two numbers: a SIP participant's identity is sip_<caller>.
        all_keys = [
            caller_keys(number, caller=caller) for caller in ("+15105550131", "+15105550132")
        ]
        sipps: list[SippCall] = []
        started: list[Record] = []
        for keys in all_keys:
            sipp = await calls.enter_async_context(phone.call(SCENARIO, **keys))
            sipps.append(sipp)
            started.append(await wait_started(sipp, live_worker, keys, 60))
        assert [s["room"] for s in started] == [room, room], started
        call_ids = [s["call_id"] for s in started]
        assert call_ids[0] != call_ids[1]

        async with join(live_stack, room) as guest:
            await guest.publish_tone()
            for sipp, call_id in zip(sipps, call_ids, strict=True):
                await sipp.meanwhile(
                    live_worker.wait_for_event("call.answered", 60, call_id=call_id)
                )
            await delete_room(lkapi, room)
            for sipp in sipps:
                result = await sipp.wait()
                assert result.returncode == 0, f"no BYE for the phone: {result.describe()}"
            ended = [
                await live_worker.wait_for_event("call.ended", 60, call_id=call_id)
                for call_id in call_ids
            ]
            await live_stack.events.agent_left(room, 60)

    for one in ended:
        assert_ended_by_the_deletion(live_worker, one)
    # One job for the room: both calls were tracked by the same one.
    jobs = live_worker.records.all(where(message="received job request", room=room))
    assert len(jobs) == 1, jobs
    assert live_worker.proc.poll() is None, "the worker died"

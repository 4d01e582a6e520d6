"""Inbound calls from a SIP phone through LiveKit's real SIP service to our running worker."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from agent.privacy import mask_number

from .calls import wait_started
from .provision import NUMBER, Line, Provisioned
from .room import join
from .sipp import CALLER, Phone, caller_keys
from .stack import Stack
from .worker import Worker

pytestmark = pytest.mark.live


def types(worker: Worker, call_id: str) -> list[str]:
    return [r["event"] for r in worker.events(call_id=call_id)]


async def test_answered_call_hung_up_by_the_caller(
    live_stack: Stack, live_trunks: Provisioned, live_worker: Worker, phone: Phone
) -> None:
    """Answered when a track is published, then BYE: one call.ended, completed by the caller."""
    keys = caller_keys(NUMBER, tier="gold")
    async with phone.call("caller_hangs_up", **keys) as sipp:
        started = await wait_started(sipp, live_worker, keys)
        call_id = started["call_id"]
        async with join(live_stack, started["room"]) as guest:
            await guest.publish_tone()
            answered = await sipp.meanwhile(
                live_worker.wait_for_event("call.answered", call_id=call_id)
            )
            sipp.go()
            result = await sipp.wait()
            assert result.returncode == 0, result.describe()
            ended = await live_worker.wait_for_event("call.ended", call_id=call_id)
            await live_stack.events.agent_left(started["room"])

    assert started["direction"] == "inbound"
    assert started["status"] == "ringing"
    assert (started["from"], started["to"]) == (CALLER, NUMBER)
    assert started["trunk_id"] == live_trunks.inbound_trunk_id
    assert started["room"].startswith("call-")
    assert answered["seq"] > started["seq"]
    stored = live_worker.stored_call(call_id)
    assert stored is not None
    headers = json.loads(stored["headers"])
    assert (headers["x-customer-id"], headers["x-tier"]) == (keys["customer_id"], "gold")
    assert headers["x-twilio-callsid"] == keys["call_sid"]
    assert json.loads(stored["custom"]) == {"customer_id": keys["customer_id"], "tier": "gold"}
    assert (ended["outcome"], ended["ended_by"], ended["disconnect_reason"]) == (
        "completed",
        "caller",
        "CLIENT_INITIATED",
    )
    assert ended["talk_s"] > 0
    seen = types(live_worker, call_id)
    assert seen[0] == "call.started" and seen[-1] == "call.ended", seen
    assert seen.count("call.ended") == 1 and seen.count("call.answered") == 1, seen


async def test_caller_cancels_while_ringing(
    live_stack: Stack, live_worker: Worker, phone: Phone
) -> None:
    """CANCEL while ringing: one call.ended, canceled by the caller, never answered."""
    keys = caller_keys(NUMBER, tier="gold")
    async with phone.call("caller_cancels", **keys) as sipp:
        started = await wait_started(sipp, live_worker, keys)
        call_id = started["call_id"]
        sipp.go()
        result = await sipp.wait()
        assert result.returncode == 0, result.describe()
        ended = await live_worker.wait_for_event("call.ended", call_id=call_id)
        await live_stack.events.agent_left(started["room"])

    assert (ended["outcome"], ended["ended_by"], ended["disconnect_reason"]) == (
        "canceled",
        "caller",
        "CLIENT_INITIATED",
    )
    assert ended["talk_s"] == 0
    seen = types(live_worker, call_id)
    assert seen[0] == "call.started" and seen[-1] == "call.ended", seen
    assert seen.count("call.ended") == 1 and "call.answered" not in seen, seen


async def test_no_number_reaches_the_log_when_masked(
    live_stack: Stack, own_line: Callable[..., tuple[Line, Worker]], phone: Phone
) -> None:
    """Numbers masked (the default): not in any line the worker prints, ours or
    livekit-agents' own, though the dispatch rule names the room after the caller."""
    line, worker = own_line(handlers="log", phone_numbers="masked")
    keys = caller_keys(line.number)
    async with phone.call("caller_cancels", **keys) as sipp:
        started = await wait_started(sipp, worker, keys)
        sipp.go()
        result = await sipp.wait()
        assert result.returncode == 0, result.describe()
        await worker.wait_for_event("call.ended", call_id=started["call_id"])
        # The log shows the room masked; the server knows it by its real name.
        masked = str(mask_number(CALLER))
        assert started["room"].startswith(f"call-_{masked}_"), started["room"]
        await live_stack.events.agent_left(started["room"].replace(masked, CALLER))
    printed = worker.log.read_text()
    assert "received job request" in printed  # livekit-agents' line naming the room
    for number in (CALLER, line.number):
        assert number not in printed and number.lstrip("+") not in printed

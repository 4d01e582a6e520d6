"""Calls told apart whatever LiveKit writes, and attributes bounded whatever a carrier sends.

LiveKit's call id repeats when a SIP participant has no `sip.callID` (the identity stands in,
and the same caller's next call has the same identity) or when two participants are given
one; the worker's own call key never does, and the call log, the webhook ids and the
per-call ordering of handlers go by it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agent.call import MAX_ATTRIBUTES, MAX_ATTRIBUTES_TOTAL_CHARS, clean_attributes
from agent.settings import load_settings
from agent.standin import FakeLiveKit
from agent.testing.harness import OneJob
from agent.webhooks.body import webhook_id

INBOUND = {
    "sip.callStatus": "active",
    "sip.phoneNumber": "+15551230001",
    "sip.trunkPhoneNumber": "+15559870002",
    "sip.trunkID": "ST_in",
    "sip.ruleID": "SDR_1",
}


@pytest.fixture
def livekit() -> Iterator[FakeLiveKit]:
    with FakeLiveKit(api_secret="test-secret-0123456789abcdef0123456789") as fake:
        yield fake


def job(livekit: FakeLiveKit) -> OneJob:
    return OneJob(livekit, "call-room", load_settings(log_format="json", hangup_grace_s=0.2))


async def test_one_caller_without_call_id_calling_twice_is_two_calls(livekit: FakeLiveKit) -> None:
    """Same identity, no `sip.callID`: two calls, two keys, no webhook id shared (another
    call keeps the job, as a new room per call would start a new one)."""
    one = job(livekit)
    await one.start()
    one.room.join("sip_keeps_the_job", attributes=INBOUND | {"sip.callID": "SCL_other"})
    for _ in range(2):
        one.room.join("sip_+15551230001", attributes=INBOUND)
        await one.settle()
        one.room.leave("sip_+15551230001", "CLIENT_INITIATED")
        await one.settle()
    first, second = await one.until("call.ended", count=2)
    one.room.leave("sip_keeps_the_job", "CLIENT_INITIATED")
    await one.until("call.ended", count=3)
    assert first.call_id == second.call_id == "sip_+15551230001"  # LiveKit's id, as written
    assert first.call_key != second.call_key
    ids = [webhook_id(event) for event in one.recorder.events]
    assert len(set(ids)) == len(ids) == 9


async def test_two_participants_given_one_call_id_each_end_once(livekit: FakeLiveKit) -> None:
    """Two SIP participants sharing a `sip.callID`: each call starts and ends once, each
    call's events in order by its own key."""
    one = job(livekit)
    await one.start()
    shared = INBOUND | {"sip.callID": "SCL_same"}
    one.room.join("sip_a", attributes=shared)
    one.room.join("sip_b", attributes=shared)
    await one.settle()
    one.room.leave("sip_a", "CLIENT_INITIATED")
    one.room.leave("sip_b", "CLIENT_INITIATED")
    ended = await one.until("call.ended", count=2)
    assert {e.call.identity for e in ended} == {"sip_a", "sip_b"}
    keys = {e.call_key for e in ended}
    assert len(keys) == 2
    for key in keys:
        assert [e.seq for e in one.recorder.events if e.call_key == key] == [1, 2, 3]


def test_attributes_are_bounded_keeping_livekits_first() -> None:
    many = {f"x-{i}": "v" * 10 for i in range(5000)} | INBOUND
    kept, dropped = clean_attributes(many)
    assert len(kept) == MAX_ATTRIBUTES and dropped == len(many) - MAX_ATTRIBUTES
    assert all(kept.get(k) == v for k, v in INBOUND.items())
    huge = {f"sip.h.x-{i}": "v" * 4000 for i in range(2000)} | INBOUND
    kept, dropped = clean_attributes(huge)
    assert sum(len(k) + len(v) for k, v in kept.items()) <= MAX_ATTRIBUTES_TOTAL_CHARS
    assert all(kept.get(k) == v for k, v in INBOUND.items())
    assert dropped == len(huge) - len(kept) > 1900


async def test_a_flood_of_attributes_is_bounded_and_warned_once(
    livekit: FakeLiveKit, capsys: pytest.CaptureFixture[str]
) -> None:
    """2,000 headers of 4,000 characters: the call goes on, every event and log line stays
    small, and one warning names the bound and the call."""
    one = job(livekit)
    await one.start()
    flood = {f"sip.h.x-{i}": "v" * 4000 for i in range(2000)}
    one.room.join("sip_caller", attributes=INBOUND | flood)
    await one.settle()
    one.room.set_attributes("sip_caller", {"sip.h.x-late": "w" * 4000})
    await one.settle()
    one.room.leave("sip_caller", "CLIENT_INITIATED")
    (ended,) = await one.until("call.ended")
    assert ended.call.status is not None and ended.call.from_number == "+15551230001"
    assert ended.call.attributes_dropped > 1900
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) < 100_000
    warnings = [
        json.loads(line)
        for line in lines
        if '"call attributes over the bound, some not kept"' in line
    ]
    assert len(warnings) == 1
    assert warnings[0]["call_key"] == ended.call_key and "256 attributes" in warnings[0]["bound"]

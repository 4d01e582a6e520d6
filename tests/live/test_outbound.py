"""Outbound calls our worker dials itself (a `dial` rule), through LiveKit's real SIP service
to a SIP phone (sipp as UAS) that is busy, declines, rings without answering, answers and
hangs up, or never responds.

Each test places an inbound call to a line of this module's own worker; a guest of the
test's answers it (publishes a tone). The call's X-Tier header picks the case, and the
test's "dial now" is an attribute it sets on the inbound call's participant through the
server API: the worker's rule (`call.updated`, `header.x-tier`, `attr.dial`) then dials the
case's number through the outbound trunk into the same room. The dialled call is found by
that number (`to`) in the room.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import pytest
from livekit import api

from .calls import wait_started
from .provision import CALLER_ID, Line, Provisioned
from .records import Record
from .room import join
from .sipp import Phone, SippCall, caller_keys
from .stack import Stack
from .worker import Worker

pytestmark = pytest.mark.live

DIAL_END_TIMEOUT_S = 60.0
"""Generous: the silent callee takes LiveKit's 32 s INVITE timeout, on a busy machine."""


@dataclass(frozen=True)
class Case:
    """One rule of the module's rules file: an X-Tier value, and the dial it makes."""

    tier: str
    to: str
    callee: str
    """The sipp UAS scenario (tests/live/sipp/<callee>.xml) that takes the dial."""
    ringing_timeout: int

    @property
    def identity(self) -> str:
        return f"callee-{self.tier}"


# Numbers outside the lines' +1510555 02xx: a dialled call is told apart by its `to`.
BUSY = Case("busy", "+15105559486", "callee_busy", ringing_timeout=10)
DECLINES = Case("declines", "+15105559603", "callee_declines", ringing_timeout=10)
RINGS = Case("rings", "+15105559180", "callee_rings", ringing_timeout=3)
ANSWERS = Case("answers", "+15105559200", "callee_hangs_up", ringing_timeout=10)
SILENT = Case("silent", "+15105559408", "callee_silent", ringing_timeout=60)
CASES = (BUSY, DECLINES, RINGS, ANSWERS, SILENT)


def rules_toml(trunk: str) -> str:
    """A dial rule per case, for the inbound call whose X-Tier names it, on "dial now"."""
    rules = []
    for case in CASES:
        dial = (
            f'to = "{case.to}", trunk = "{trunk}", identity = "{case.identity}", '
            f"ringing_timeout = {case.ringing_timeout}"
        )
        rules.append(
            "[[rule]]\n"
            f'name = "dial {case.tier}"\n'
            'on = "call.updated"\n'
            f'when = {{ direction = "inbound", "header.x-tier" = "{case.tier}", '
            '"attr.dial" = "now" }\n'
            f"do = {{ dial = {{ {dial} }} }}\n"
        )
    return "\n".join(rules)


@pytest.fixture(scope="module")
def dialler(
    own_line: Callable[..., tuple[Line, Worker]],
    live_trunks: Provisioned,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Line, Worker]:
    """A line of the module's own, and its worker with the dial rules."""
    path = tmp_path_factory.mktemp("outbound-rules") / "rules.toml"
    path.write_text(rules_toml(live_trunks.outbound_trunk_id))
    return own_line(handlers="store,log,router", rules=str(path))


# --- one inbound call that makes the worker dial -------------------------------------------


@dataclass
class Dial:
    """The inbound call, the dialled call, the phones."""

    room: str
    inbound: Record
    """The inbound call's call.started."""
    dialled: Record
    """The dialled call's call.started."""
    caller: SippCall
    callee: SippCall
    inbound_ended: Record | None = None
    """The inbound call's call.ended, once the block has ended."""

    @property
    def call_id(self) -> str:
        return str(self.dialled["call_id"])


async def hang_up_inbound(
    stack: Stack, worker: Worker, caller: SippCall, inbound: Record
) -> Record:
    """The caller's BYE; the inbound call's call.ended, once the room's job has ended."""
    caller.go()
    result = await caller.wait()
    assert result.returncode == 0, result.describe()
    ended = await worker.wait_for_event("call.ended", call_id=inbound["call_id"])
    await stack.events.agent_left(inbound["room"])
    return ended


@asynccontextmanager
async def dialled(
    case: Case, stack: Stack, dialler: tuple[Line, Worker], phone: Phone, lkapi: api.LiveKitAPI
) -> AsyncIterator[Dial]:
    """An answered inbound call whose worker dials `case`: yields once the dialled call has
    started; then the caller hangs up, and the block ends when the room's job has ended.
    If the block fails, the room is deleted before the phones go, so that LiveKit's BYE
    for a call left up reaches this test's callee and not the next test's."""
    line, worker = dialler
    keys = caller_keys(line.number, tier=case.tier)
    async with AsyncExitStack() as phones:
        callee = await phones.enter_async_context(phone.answer(case.callee))
        caller = await phones.enter_async_context(phone.call("caller_hangs_up", **keys))
        inbound = await wait_started(caller, worker, keys)
        room = inbound["room"]
        phones.push_async_callback(delete_room_if_failed, lkapi, room)
        guest = await phones.enter_async_context(join(stack, room))
        await guest.publish_tone()
        await caller.meanwhile(worker.wait_for_event("call.answered", call_id=inbound["call_id"]))
        stored = worker.stored_call(inbound["call_id"])
        assert stored is not None
        await lkapi.room.update_participant(
            api.UpdateParticipantRequest(
                room=room, identity=stored["identity"], attributes={"dial": "now"}
            )
        )
        started = await worker.wait_for_event("call.started", room=room, to=case.to)
        dial = Dial(room, inbound, started, caller, callee)
        yield dial
        dial.inbound_ended = await hang_up_inbound(stack, worker, caller, inbound)
        _ended_well.add(room)


_ended_well: set[str] = set()
"""Rooms whose calls were hung up as the test meant to, and whose job has ended."""


async def delete_room_if_failed(lkapi: api.LiveKitAPI, room: str) -> None:
    if room in _ended_well:
        return
    with suppress(Exception):  # best effort, on the way out of a failure
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=room))


# --- checks ----------------------------------------------------------------------------------


def events_of(worker: Worker, call_id: str) -> list[Record]:
    return worker.events(call_id=call_id)


def types(worker: Worker, call_id: str) -> list[str]:
    return [r["event"] for r in events_of(worker, call_id)]


def only_one_call(worker: Worker, dial: Dial, case: Case) -> list[str]:
    """The room holds exactly one call to the case's number, started and ended once; its
    event types, in order."""
    calls = {r["call_id"] for r in worker.events(room=dial.room, to=case.to)}
    assert calls == {dial.call_id}, calls
    seen = types(worker, dial.call_id)
    assert seen[0] == "call.started" and seen[-1] == "call.ended", seen
    assert seen.count("call.started") == 1 and seen.count("call.ended") == 1, seen
    return seen


def check_dialled(worker: Worker, dial: Dial, case: Case, trunk: str) -> None:
    """What every dialled call says about itself: LiveKit placed it (a participant joined,
    `dialing`), outbound, from the trunk's number to the case's, in the call log."""
    started = dial.dialled
    assert started["status"] == "dialing", started
    assert started["call_id"].startswith("SCL_"), started
    assert started["direction"] == "outbound"
    assert (started["from"], started["to"]) == (CALLER_ID, case.to)
    assert started["trunk_id"] == trunk
    stored = worker.stored_call(dial.call_id)
    assert stored is not None
    assert (stored["identity"], stored["direction"]) == (case.identity, "outbound")
    # The inbound call that asked for the dial ended as the caller's own hang-up.
    assert dial.inbound_ended is not None
    assert (dial.inbound_ended["outcome"], dial.inbound_ended["ended_by"]) == (
        "completed",
        "caller",
    )


async def livekit_reason(stack: Stack, dial: Dial, case: Case) -> str:
    """The disconnect reason LiveKit itself gave the dialled participant (the server's
    participant_left webhook): what the worker's call.ended must say."""
    fields: dict[str, Any] = {"participant.identity": case.identity}
    left = await stack.events.wait_for_event("participant_left", dial.room, **fields)
    return str(left["participant"].get("disconnect_reason"))


def end_of(ended: Record) -> tuple[str, str, str]:
    return ended["outcome"], ended["ended_by"], ended["disconnect_reason"]


def callee_saw(callee: SippCall, text: str) -> bool:
    """Whether sipp's message trace holds `text`."""
    return any(text in p.read_text(errors="replace") for p in callee.workdir.glob("*_messages.log"))


async def dial_to_its_end(
    case: Case,
    stack: Stack,
    dialler: tuple[Line, Worker],
    phone: Phone,
    lkapi: api.LiveKitAPI,
    trunk: str,
    *,
    callee_exits: bool = True,
) -> tuple[Dial, Record]:
    """The dial of `case` until its call.ended (and the callee's scenario's end, when it has
    one), checked as every dialled call is: (the dial, its call.ended)."""
    _, worker = dialler
    async with dialled(case, stack, dialler, phone, lkapi) as dial:
        ended = await worker.wait_for_event(
            "call.ended", call_id=dial.call_id, timeout=DIAL_END_TIMEOUT_S
        )
        if callee_exits:
            result = await dial.callee.wait()
            assert result.returncode == 0, result.describe()
    check_dialled(worker, dial, case, trunk)
    return dial, ended


# --- the cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "code", "phrase"), [(BUSY, 486, "486 Busy Here"), (DECLINES, 603, "603 Decline")]
)
async def test_callee_refuses(
    live_stack: Stack,
    live_trunks: Provisioned,
    dialler: tuple[Line, Worker],
    phone: Phone,
    lkapi: api.LiveKitAPI,
    case: Case,
    code: int,
    phrase: str,
) -> None:
    """486 Busy Here or 603 Decline: LiveKit leaves USER_REJECTED either way, so the outcome
    is busy (the README's table), ended by the callee, with the SIP status."""
    _, worker = dialler
    dial, ended = await dial_to_its_end(
        case, live_stack, dialler, phone, lkapi, live_trunks.outbound_trunk_id
    )
    assert await livekit_reason(live_stack, dial, case) == "USER_REJECTED"
    assert end_of(ended) == ("busy", "callee", "USER_REJECTED"), ended
    assert (ended["sip_status_code"], ended["talk_s"]) == (code, 0)
    failed = worker.events(call_id=dial.call_id, event="call.action_failed")
    assert [(f["action"], f["sip_status_code"]) for f in failed] == [("dial", code)], failed
    assert phrase in failed[0]["error"]
    seen = only_one_call(worker, dial, case)
    assert "call.answered" not in seen, seen
    stored = worker.stored_call(dial.call_id)
    assert stored is not None
    assert (stored["outcome"], stored["sip_status_code"]) == ("busy", code)


async def test_callee_rings_past_the_ringing_timeout(
    live_stack: Stack,
    live_trunks: Provisioned,
    dialler: tuple[Line, Worker],
    phone: Phone,
    lkapi: api.LiveKitAPI,
) -> None:
    """180 and no answer: LiveKit CANCELs when the dial's ringing_timeout runs out; no-answer,
    by the callee, USER_UNAVAILABLE. No SIP final response decided it (the callee's 487
    only answers LiveKit's CANCEL), so there is no SIP status."""
    _, worker = dialler
    dial, ended = await dial_to_its_end(
        RINGS, live_stack, dialler, phone, lkapi, live_trunks.outbound_trunk_id
    )
    assert callee_saw(dial.callee, "CANCEL sip:")
    reason = await livekit_reason(live_stack, dial, RINGS)
    assert reason == "USER_UNAVAILABLE"
    # LiveKit's API answers this dial "408 canceled: sip request timed out" (no SIP status)
    # a few ms after it removed the participant; the room's disconnect can reach the worker
    # after that answer, and LiveKit's reason must still be the call's.
    assert end_of(ended) == ("no-answer", "callee", "USER_UNAVAILABLE"), (
        f"LiveKit ended the participant {reason}; the worker's call.ended: {ended}"
    )
    assert ended["status"] == "ringing"
    assert ended.get("sip_status_code") is None, ended
    assert ended["talk_s"] == 0
    # Rang from LiveKit's INVITE to its CANCEL: the dial's ringing timeout, give or take
    # how late the worker saw the participant join.
    assert ended["ringing_s"] >= RINGS.ringing_timeout - 1, ended
    seen = only_one_call(worker, dial, RINGS)
    assert seen.count("call.action_failed") == 1, seen
    assert "call.answered" not in seen, seen
    ringing = worker.events(call_id=dial.call_id, event="call.status_changed")
    assert [(r["previous_status"], r["status"]) for r in ringing] == [("dialing", "ringing")]


async def test_callee_answers_then_hangs_up(
    live_stack: Stack,
    live_trunks: Provisioned,
    dialler: tuple[Line, Worker],
    phone: Phone,
    lkapi: api.LiveKitAPI,
) -> None:
    """180, 200 OK (PCMU), then the callee's BYE: the SIP Call-ID and the callee's tag come
    with the 200 as a call.updated, call.answered follows; completed, by the callee,
    CLIENT_INITIATED, no SIP status."""
    _, worker = dialler
    async with dialled(ANSWERS, live_stack, dialler, phone, lkapi) as dial:
        updated = await dial.callee.meanwhile(
            worker.wait_for(
                lambda r: (
                    r.get("event") == "call.updated"
                    and r.get("call_id") == dial.call_id
                    and "sip.callIDFull" in r.get("added", {})
                ),
                DIAL_END_TIMEOUT_S,
                "the dialled call's call.updated adding sip.callIDFull",
            )
        )
        answered = await dial.callee.meanwhile(
            worker.wait_for_event("call.answered", call_id=dial.call_id)
        )
        # The callee hangs up: sipp takes the go by LiveKit's Call-ID.
        dial.callee.call_id = updated["added"]["sip.callIDFull"]
        dial.callee.go()
        result = await dial.callee.wait()
        assert result.returncode == 0, result.describe()
        ended = await worker.wait_for_event("call.ended", call_id=dial.call_id)

    check_dialled(worker, dial, ANSWERS, live_trunks.outbound_trunk_id)
    assert await livekit_reason(live_stack, dial, ANSWERS) == "CLIENT_INITIATED"
    added = updated["added"]
    assert callee_saw(dial.callee, f"Call-ID: {added['sip.callIDFull']}")
    assert added["sip.callTag"] == f"{dial.callee.proc.pid}SIPpTag011", added
    assert dial.dialled["seq"] < updated["seq"] < answered["seq"], (updated, answered)
    assert answered["status"] == "active"
    assert end_of(ended) == ("completed", "callee", "CLIENT_INITIATED"), ended
    assert ended.get("sip_status_code") is None, ended
    assert ended["talk_s"] > 0
    seen = only_one_call(worker, dial, ANSWERS)
    assert seen.count("call.answered") == 1, seen
    assert "call.action_failed" not in seen, seen
    statuses = worker.events(call_id=dial.call_id, event="call.status_changed")
    assert [r["status"] for r in statuses][:2] == ["ringing", "active"], statuses
    stored = worker.stored_call(dial.call_id)
    assert stored is not None
    assert stored["sip_call_id"] == added["sip.callIDFull"]


async def test_callee_never_responds(
    live_stack: Stack,
    live_trunks: Provisioned,
    dialler: tuple[Line, Worker],
    phone: Phone,
    lkapi: api.LiveKitAPI,
) -> None:
    """No response at all to the INVITE (LiveKit retransmits it, 6 times): LiveKit gives up
    when its INVITE transaction times out (32 s), sends nothing more, and the participant
    leaves USER_UNAVAILABLE: no-answer, by the callee, no SIP status."""
    _, worker = dialler
    dial, ended = await dial_to_its_end(
        SILENT, live_stack, dialler, phone, lkapi, live_trunks.outbound_trunk_id, callee_exits=False
    )
    assert callee_saw(dial.callee, f"INVITE sip:{SILENT.to}@")
    reason = await livekit_reason(live_stack, dial, SILENT)
    assert reason == "USER_UNAVAILABLE"
    # As for the ringing callee: LiveKit's API answers "408 canceled: transaction failed to
    # complete (0 intermediate responses)", and LiveKit's own reason must be the call's.
    assert end_of(ended) == ("no-answer", "callee", "USER_UNAVAILABLE"), (
        f"LiveKit ended the participant {reason}; the worker's call.ended: {ended}"
    )
    assert ended["status"] == "dialing"  # not even a 100 Trying came back
    assert ended.get("sip_status_code") is None, ended
    assert ended["ringing_s"] >= 30, ended
    seen = only_one_call(worker, dial, SILENT)
    assert seen == ["call.started", "call.action_failed", "call.ended"], seen

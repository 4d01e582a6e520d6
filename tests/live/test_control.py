"""Call control on real SIP calls: workers of the test's own whose rules hang up and transfer
the calls to their number, LiveKit's SIP service carrying it out, sipp as the phone.

One worker runs the rules below: the caller's `X-Test-Action` header (`header.x-test-action`)
picks what the worker does once the call is answered. Another runs examples/routing.toml, the
README's rules file, as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from .calls import until_the_phone_is_done, wait_started
from .provision import ROOT, Line
from .records import Record, where
from .room import join
from .siplog import received, response_to, sip_messages
from .sipp import Phone, caller_keys
from .stack import Stack
from .worker import Worker

pytestmark = pytest.mark.live

TRANSFER_TO = "sip:human@127.0.0.1:5999"
RULES = f"""
[[rule]]
on = "call.answered"
when = {{ "header.x-test-action" = "hangup" }}
do = "hangup"

[[rule]]
on = "call.answered"
when = {{ "header.x-test-action" = "hangup-with-headers" }}
do = {{ hangup = {{ headers = {{ "X-Reason" = "done" }} }} }}

[[rule]]
on = "call.answered"
when = {{ "header.x-test-action" = "transfer" }}
do = {{ transfer = {{ to = "{TRANSFER_TO}" }} }}
"""
ROUTING_RULES = ROOT / "examples/routing.toml"
BLOCKED_CALLER = "+15550001111"
"""The first number routing.toml hangs up on."""
ROUTING_TRANSFER_TO = "tel:+15551230000"
"""Where routing.toml transfers gold callers."""

LineWorker = tuple[Line, Worker]


@pytest.fixture(scope="module")
def control_line(
    own_line: Callable[..., LineWorker], tmp_path_factory: pytest.TempPathFactory
) -> LineWorker:
    """A number whose worker hangs up or transfers answered calls as X-Test-Action says."""
    rules = tmp_path_factory.mktemp("control-rules") / "rules.toml"
    rules.write_text(RULES)
    return own_line(handlers="store,log,router", rules=str(rules))


@pytest.fixture(scope="module")
def routing_line(own_line: Callable[..., LineWorker]) -> LineWorker:
    """A number whose worker runs examples/routing.toml as users would."""
    return own_line(handlers="store,log,router", rules=str(ROUTING_RULES))


def control_keys(line: Line, action: str = "none", **more: str) -> dict[str, str]:
    """Our caller's keys, with the X-Test-Action header that picks the control rule."""
    return caller_keys(line.number, action=action, **more)


# --- what the worker saw ---------------------------------------------------------------


def event_types(worker: Worker, call_id: str) -> list[str]:
    """The call's events, in order (the worker's other lines about it left out)."""
    return [e for r in worker.events(call_id=call_id) if (e := r["event"]).startswith("call.")]


def at(record: Record) -> datetime:
    return datetime.fromisoformat(record["timestamp"])


def the_end(ended: Record) -> tuple[Any, Any, Any]:
    return ended["outcome"], ended["ended_by"], ended["disconnect_reason"]


def assert_one_end(worker: Worker, call_id: str) -> list[str]:
    seen = event_types(worker, call_id)
    assert seen[0] == "call.started" and seen.count("call.ended") == 1, seen
    assert "call.action_failed" not in seen, worker.events(call_id=call_id)
    return seen


# --- the tests -------------------------------------------------------------------------


async def test_agent_hangs_up(live_stack: Stack, control_line: LineWorker, phone: Phone) -> None:
    """`do = "hangup"` on call.answered: the participant is removed, the phone gets a BYE,
    and the call ends completed by the agent (PARTICIPANT_REMOVED)."""
    line, worker = control_line
    keys = control_keys(line, "hangup")
    started, result, ended = await until_the_phone_is_done(
        live_stack, phone, worker, "caller_waits_for_bye", keys, answer=True
    )
    call_id = started["call_id"]

    (bye,) = received(sip_messages(result), "BYE")
    assert bye.header("X-Reason") is None
    assert the_end(ended) == ("completed", "agent", "PARTICIPANT_REMOVED")
    assert ended["talk_s"] > 0
    seen = assert_one_end(worker, call_id)
    assert seen == ["call.started", "call.status_changed", "call.answered", "call.ended"], seen
    done = worker.records.all(where(event="call action done", call_id=call_id, action="hangup"))
    assert len(done) == 1 and "via" not in done[0], done


async def test_agent_hangs_up_with_bye_headers(
    live_stack: Stack, control_line: LineWorker, phone: Phone
) -> None:
    """`hangup = { headers = {...} }`: LiveKit's SIP service (v1.8.0) has `lk.sip.EndCall`, so
    the headers go on the BYE. It writes `hangup` and the participant leaves CLIENT_INITIATED,
    as when the caller hangs up; but the agent ended this call."""
    line, worker = control_line
    keys = control_keys(line, "hangup-with-headers")
    started, result, ended = await until_the_phone_is_done(
        live_stack, phone, worker, "caller_waits_for_bye", keys, answer=True
    )
    call_id = started["call_id"]

    (bye,) = received(sip_messages(result), "BYE")
    assert bye.header("X-Reason") == "done", bye.text
    done = worker.records.all(where(event="call action done", call_id=call_id, action="hangup"))
    assert [r.get("via") for r in done] == ["lk.sip.EndCall"], done
    seen = assert_one_end(worker, call_id)
    assert seen[-2:] == ["call.status_changed", "call.ended"], seen
    assert ended["status"] == "hangup"
    assert ended["disconnect_reason"] == "CLIENT_INITIATED"
    # The worker asked for this end: it is the agent's, not the caller's (README, Outcomes).
    assert (ended["outcome"], ended["ended_by"]) == ("completed", "agent"), ended


async def test_transfer_accepted(live_stack: Stack, control_line: LineWorker, phone: Phone) -> None:
    """A transfer rule: REFER, the phone accepts (202, NOTIFY 200), LiveKit sends the BYE
    itself; call.transfer_succeeded, then one call.ended by the agent with the target."""
    line, worker = control_line
    keys = control_keys(line, "transfer", sipfrag="200 OK")
    started, result, ended = await until_the_phone_is_done(
        live_stack, phone, worker, "caller_answers_refer", keys, answer=True
    )
    call_id = started["call_id"]

    messages = sip_messages(result)
    (refer,) = received(messages, "REFER")
    # A sip: target goes in angle brackets, a tel: one without (see the routing tests).
    assert refer.header("Refer-To") == f"<{TRANSFER_TO}>", refer.text
    (bye,) = received(messages, "BYE")
    notify_ok = response_to(messages, "NOTIFY", by_phone=False)
    assert notify_ok.status == 200
    # LiveKit waits a second for the transferred phone to hang up, then sends the BYE itself.
    assert 0.9 < (bye.at - notify_ok.at).total_seconds() < 5, (notify_ok.at, bye.at)

    succeeded = await worker.wait_for_event("call.transfer_succeeded", call_id=call_id)
    assert succeeded["transfer_to"] == TRANSFER_TO
    assert succeeded["seq"] < ended["seq"]
    assert_one_end(worker, call_id)
    assert the_end(ended) == ("completed", "agent", "CLIENT_INITIATED")
    assert ended["transferred_to"] == TRANSFER_TO
    assert ended["status"] == "hangup"


async def test_transfer_refused(live_stack: Stack, control_line: LineWorker, phone: Phone) -> None:
    """The phone refuses the REFER's transfer (NOTIFY 603): call.transfer_failed with 603, the
    call stays up (sipp would fail on a BYE from LiveKit), and ends when the caller hangs up."""
    line, worker = control_line
    keys = control_keys(line, "transfer", sipfrag="603 Declined")
    async with phone.call("caller_refuses_transfer", **keys) as sipp:
        started = await wait_started(sipp, worker, keys)
        call_id = started["call_id"]
        async with join(live_stack, started["room"]) as guest:
            await guest.publish_tone()
            failed = await sipp.meanwhile(
                worker.wait_for_event("call.transfer_failed", call_id=call_id)
            )
            assert worker.events(call_id=call_id, event="call.ended") == []
            sipp.go()  # the caller hangs up
            result = await sipp.wait()
            assert result.returncode == 0, result.describe()
            ended = await worker.wait_for_event("call.ended", call_id=call_id)
        await live_stack.events.agent_left(started["room"])

    messages = sip_messages(result)
    assert received(messages, "BYE") == [], "LiveKit hung up after the refused transfer"
    assert (failed["transfer_to"], failed["sip_status_code"]) == (TRANSFER_TO, 603), failed
    seen = assert_one_end(worker, call_id)
    assert "call.transfer_succeeded" not in seen, seen
    # Nothing about the call changed between the refusal and the caller's BYE.
    after = seen[seen.index("call.transfer_failed") + 1 :]
    assert after == ["call.status_changed", "call.ended"], seen
    assert the_end(ended) == ("completed", "caller", "CLIENT_INITIATED")
    assert ended.get("transferred_to") is None
    phone_bye = next(m for m in messages if not m.received and m.method == "BYE")
    assert at(ended) > phone_bye.at


async def test_routing_example_hangs_up_a_blocked_caller(
    live_stack: Stack, routing_line: LineWorker, phone: Phone
) -> None:
    """examples/routing.toml, rule 1: a call from +15550001111 is hung up at call.started,
    while it rings: the phone gets 486, the call ends canceled by the agent."""
    line, worker = routing_line
    keys = control_keys(line, caller=BLOCKED_CALLER)
    started, result, ended = await until_the_phone_is_done(  # caller_waits: for the 486
        live_stack, phone, worker, "caller_waits", keys, answer=False
    )
    call_id = started["call_id"]

    messages = sip_messages(result)
    final = response_to(messages, "INVITE", by_phone=False)
    assert final.status == 486, final.text
    assert received(messages, "BYE") == []
    assert started["from"] == BLOCKED_CALLER
    assert the_end(ended) == ("canceled", "agent", "PARTICIPANT_REMOVED")
    assert ended["talk_s"] == 0
    assert assert_one_end(worker, call_id) == ["call.started", "call.ended"]
    # The first matching rule only: no voice agent dispatched for a blocked caller.
    actions = [r["action"] for r in worker.records.all(where(event="call action", call_id=call_id))]
    assert actions == ["hangup"], actions


async def test_routing_example_gold_caller_refuses_transfer(
    live_stack: Stack, routing_line: LineWorker, phone: Phone
) -> None:
    """examples/routing.toml on a gold caller (X-Tier: gold, `header.x-tier`): the voice agent
    is dispatched at call.started, the call is transferred once answered, the phone refuses
    (NOTIFY 603), and the call.transfer_failed rule hangs up: completed by the agent."""
    line, worker = routing_line
    keys = control_keys(line, tier="gold", sipfrag="603 Declined")
    started, result, ended = await until_the_phone_is_done(
        live_stack, phone, worker, "caller_answers_refer", keys, answer=True
    )
    call_id = started["call_id"]

    messages = sip_messages(result)
    (refer,) = received(messages, "REFER")
    assert refer.header("Refer-To") == ROUTING_TRANSFER_TO, refer.text
    (bye,) = received(messages, "BYE")
    notify_answer = response_to(messages, "NOTIFY", by_phone=False)
    assert notify_answer.status == 200
    # The hangup rule's BYE follows LiveKit's answer to the refusing NOTIFY.
    assert 0 <= (bye.at - notify_answer.at).total_seconds() < 3, (notify_answer.at, bye.at)

    failed = await worker.wait_for_event("call.transfer_failed", call_id=call_id)
    assert (failed["transfer_to"], failed["sip_status_code"]) == (ROUTING_TRANSFER_TO, 603)
    seen = assert_one_end(worker, call_id)
    assert seen.index("call.transfer_failed") < seen.index("call.ended"), seen
    assert the_end(ended) == ("completed", "agent", "PARTICIPANT_REMOVED")
    assert ended.get("transferred_to") is None
    done = [
        r["action"] for r in worker.records.all(where(event="call action done", call_id=call_id))
    ]
    assert sorted(done) == ["dispatch_agent", "hangup"], done
    stored = worker.stored_call(call_id)
    assert stored is not None
    assert (stored["outcome"], stored["ended_by"]) == ("completed", "agent")

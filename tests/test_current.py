"""The way back from an event to its job: one place, and a sentence when there is none."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent import CallStarted, control, parse_call
from agent.control.rules import ACTIONS

EVENT = CallStarted(
    call=parse_call(
        {"sip.callID": "SCL_1", "sip.callStatus": "ringing"},
        room="call-1",
        identity="sip_1",
        participant_sid="PA_1",
        first_seen=datetime(2026, 1, 1, tzinfo=UTC),
    ),
    seq=1,
    at=datetime(2026, 1, 1, tzinfo=UTC),
)


def test_control_outside_a_job_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match=r"^no sip-agent job here: call control .*run_job"):
        control(EVENT)


async def test_a_rule_action_outside_a_job_says_the_same() -> None:
    log_action = ACTIONS["log"]("hello")
    with pytest.raises(RuntimeError, match=r"^no sip-agent job here"):
        await log_action(EVENT)

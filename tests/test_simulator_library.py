"""Every shipped scenario plays through the real entrypoint and ends as DOMAIN.md's table says."""

import pytest

from agent.simulator import shipped
from agent.simulator.pytest_plugin import SipSimulator

# The outcome each case must reach, per call (the table in DOMAIN.md and the README).
OUTCOMES = {
    "twilio-inbound-answered": {"caller": ("completed", "caller")},
    "inbound-canceled-while-ringing": {"caller": ("canceled", "caller")},
    "outbound-busy": {"callee": ("busy", "callee")},
    "outbound-no-answer": {"callee": ("no-answer", "callee")},
    "outbound-early-answer": {"callee": ("completed", "callee")},
    "late-twilio-callsid": {"callee": ("completed", "callee")},
    "transfer": {"caller": ("completed", "agent")},
    "dtmf-menu": {"caller": ("completed", "caller")},
    "hidden-numbers": {"caller": ("completed", "caller")},
    "agent-hangs-up": {"caller": ("completed", "agent")},
    "room-deleted": {"caller": ("completed", "agent")},
    "routing-gold-transfer-fails": {"caller": ("completed", "agent")},
    "agent-never-speaks": {"caller": ("completed", "agent")},
    "multi-call": {
        "alice": ("completed", "caller"),
        "bob": ("canceled", "caller"),
        "carol": ("busy", "callee"),
        "supervisor": ("completed", "agent"),
    },
}


def test_the_library_is_the_documented_cases() -> None:
    """The library ships one file per case, no more, no less."""
    assert set(shipped()) == set(OUTCOMES)


@pytest.mark.parametrize("name", sorted(OUTCOMES))
async def test_shipped_scenario_ends_as_expected(sip_simulator: SipSimulator, name: str) -> None:
    """Each call ends exactly once, with the outcome and party the table gives."""
    result = await sip_simulator.play(name, handlers=["log"])
    ended = {call: (r.ended.outcome, r.ended.ended_by) for call, r in result.calls.items()}
    assert ended == OUTCOMES[name]


async def test_late_twilio_callsid_arrives_as_an_update(sip_simulator: SipSimulator) -> None:
    """The Twilio CallSid of an outbound call shows up in a call.updated, then on the call."""
    result = await sip_simulator.play("late-twilio-callsid")
    events = result["callee"].events
    assert events[0].call.twilio_call_sid is None
    update = next(e for e in events if e.type == "call.updated")
    assert update.call.twilio_call_sid == "CAfedcba9876543210fedcba9876543210"


async def test_hidden_numbers_carry_no_numbers(sip_simulator: SipSimulator) -> None:
    """A call on a trunk that hides numbers has neither from nor to."""
    result = await sip_simulator.play("hidden-numbers")
    call = result["caller"].ended.call
    assert (call.from_number, call.to_number, call.identity) == (None, None, "sip_5f3c8e2a9b1d4c07")

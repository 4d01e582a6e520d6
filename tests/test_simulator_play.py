"""The player: scenario time, calls left up at the end, scripts built in code."""

import time
from pathlib import Path

from agent.simulator.pytest_plugin import SipSimulator
from agent.simulator.script import Script
from agent.standin import Recorder

ATTRS = {"sip.callID": "SCL_p1", "sip.phoneNumber": "+15550001111", "sip.ruleID": "SDR_1"}


def answered_call(talk: float) -> Script:
    return (
        Script("answered")
        .call("caller", status="ringing", attributes=ATTRS)
        .join("caller")
        .wait(1)
        .set("caller", status="active")
        .wait(talk)
    )


async def test_waits_are_scaled_but_durations_are_scenario_time(
    sip_simulator: SipSimulator,
) -> None:
    """At speed 20, three scenario seconds take 0.15 s and still report talk_s 3.0."""
    script = answered_call(2).leave("caller").expect("caller", talk_s=2, duration_s=3)
    started = time.perf_counter()
    await sip_simulator.play(script, speed=20)
    assert 0.15 <= time.perf_counter() - started < 2


async def test_call_still_up_when_the_script_ends(sip_simulator: SipSimulator) -> None:
    """A call the script never ends ends with its job, once."""
    script = answered_call(5).expect("caller", outcome="completed", disconnect_reason="JOB_ENDED")
    result = await sip_simulator.play(script)
    assert result["caller"].ended.ended_by == "system"


async def test_reconnect_keeps_the_call(sip_simulator: SipSimulator) -> None:
    """The agent's connection restarting mid-call does not start a second call."""
    # The caller is announced again 2 s after the connection is back (a real server's order).
    script = answered_call(5).reconnect("caller", back_after=2).wait(5).leave("caller")
    result = await sip_simulator.play(script.expect("caller", talk_s=12))
    assert result["caller"].types.count("call.started") == 1


async def test_unmet_expectation_is_a_failure(sip_simulator: SipSimulator) -> None:
    """With check=False the failures come back instead of failing the test."""
    script = answered_call(1).leave("caller").expect("caller", outcome="busy")
    result = await sip_simulator.play(script, check=False)
    assert result.failures == ("caller: outcome completed, expected busy",)


async def test_one_phone_calling_twice_gets_a_verdict_per_call(
    sip_simulator: SipSimulator,
) -> None:
    """The same identity gives up, then calls back and talks: two calls, each its own."""
    again = {"sip.phoneNumber": "+15550001111", "sip.ruleID": "SDR_1"}
    script = (
        Script("twice")
        .call("first", status="ringing", room="r", attributes=again)
        .call("second", status="ringing", room="r", attributes=again)
        .join("first")
        .wait(2)
        .leave("first")
        .join("second")
        .wait(1)
        .set("second", status="active")
        .wait(5)
        .leave("second")
        .expect("first", outcome="no-answer", ringing_s=2)
        .expect("second", outcome="completed", talk_s=5)
    )
    result = await sip_simulator.play(script)
    assert result["first"].types == ("call.started", "call.ended")
    assert result["second"].ended.talk_s == 5


async def test_a_slow_handler_within_its_timeout_gets_every_event(
    sip_simulator: SipSimulator,
) -> None:
    """0.8 s per event under a 1 s timeout: the play waits for delivery, call.ended too."""
    slow = Recorder("slow", delay=0.8)
    result = await sip_simulator.play(
        "twilio-inbound-answered", handlers=[slow], handler_timeout_s=1, hangup_grace_s=0
    )
    assert [e.type for e in slow.events] == list(result["caller"].types)
    assert slow.events[-1].type == "call.ended"


async def test_shipped_routing_scenario_with_a_realistic_handler_list(
    sip_simulator: SipSimulator, tmp_path: Path
) -> None:
    """log and store before the router: its transfer and hangup still happen step by step."""
    result = await sip_simulator.play(
        "routing-gold-transfer-fails",
        handlers=["log", "store"],
        db_url=f"sqlite:///{tmp_path / 'calls.db'}",
    )
    assert result["caller"].ended.disconnect_reason == "PARTICIPANT_REMOVED"

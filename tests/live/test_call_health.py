"""The worker's call health on a real call: a real livekit-agents voice agent answers a sipp
caller who speaks in bursts (tests/live/voice_agent.py, tests/live/sipp.py `Bursts`). What
the worker measures from the agent's `lk.agent.state`, without subscribing to anything,
matches what a listener of the room saw; an agent that never speaks raises
`call.agent_missing`, and the rule acting on it reaches the real SIP service."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .listener import listening_after
from .records import where
from .repeat import runs
from .siplog import received, sip_messages
from .sipp import Bursts, Phone, caller_keys
from .stack import Stack
from .voice import VoiceLine, voice_call
from .voice_agent import VoiceScript

pytestmark = pytest.mark.live

TURNS = 2
SAME_S = 0.3
"""How far the worker's and the listener's view of one state change may differ: both get it
from the server, at their own moment, on a loaded 2-core machine."""
AGENT_TIMEOUT_S = 4.0
RULES = Path(__file__).parent / "rules" / "agent_missing.toml"


def responses(states: list[tuple[float, str]]) -> list[float]:
    """`thinking` to `speaking`, per turn, as the listener saw them."""
    return [
        speaking - thinking
        for (thinking, a), (speaking, b) in itertools.pairwise(states)
        if (a, b) == ("thinking", "speaking")
    ]


@pytest.mark.parametrize("run", runs())
async def test_the_workers_figures_match_what_the_room_saw(
    run: int,
    live_stack: Stack,
    voice_line: Callable[..., VoiceLine],
    phone: Phone,
    tmp_path: Path,
) -> None:
    voice = voice_line()
    async with voice_call(live_stack, phone, voice, Bursts(), tmp_path) as call:
        facts = call.facts
        done = listening_after(1 + TURNS, "speaking")
        await call.sipp.meanwhile(facts.wait_for(done, 60, "the last reply's end"))
        call.sipp.go()
        assert (await call.sipp.wait()).returncode == 0
    started = await voice.worker.wait_for_event(
        "call.started", twilio_call_sid=call.keys["call_sid"]
    )
    ended = await voice.worker.wait_for_event("call.ended", call_id=started["call_id"])
    stored = voice.worker.stored_call(started["call_key"])
    assert stored is not None and stored["health"] is not None, stored
    health: dict[str, Any] = json.loads(stored["health"])
    (tmp_path / "health.json").write_text(json.dumps(health, indent=1))

    agent = next(
        r
        for r in facts.all()
        if r["fact"] in ("joined", "present")
        and r["kind"] == "AGENT"
        and r["attributes"].get("lk.agent.name") == voice.script.name
    )
    seen = responses(facts.states(agent["identity"]))
    assert health["agent_name"] == voice.script.name
    assert health["agent_missing"] is False and ended["agent_missing"] is False
    assert health["turns"] == len(seen) >= TURNS, (health, seen)
    for worker_s, room_s in zip(health["responses_s"], seen, strict=True):
        assert abs(worker_s - room_s) <= SAME_S, (health["responses_s"], seen)
        assert worker_s < voice.script.reply_delay_s + 1.0  # a reply, not a turn missed
    # The greeting is the agent's first speech, at the answer: it can reach the worker just
    # before the answer, which comes from another participant (docs/REAL-LIVEKIT.md).
    assert health["agent_first_speech_after_answer_s"] is not None
    assert -SAME_S <= health["agent_first_speech_after_answer_s"] < 2.0, health
    assert health["agent_audio_s"] is not None and health["agent_left_early"] is False
    assert voice.worker.records.all(where(event="call.agent_missing")) == []


async def test_an_agent_that_never_speaks_is_missing_and_the_rule_hangs_up(
    live_stack: Stack, voice_line: Callable[..., VoiceLine], phone: Phone
) -> None:
    """A silent agent answers (its track does) and never speaks: `call.agent_missing` comes
    SIP_AGENT_AGENT_TIMEOUT_S after the answer, the rule hangs up through LiveKit's SIP
    service with its reason on the BYE, and the call ends as the agent's."""
    voice = voice_line(
        VoiceScript(silent=True),
        handlers="store,log,router",
        rules=str(RULES),
        agent_timeout_s=str(AGENT_TIMEOUT_S),
    )
    keys = caller_keys(voice.line.number, action="none")  # no rule of ours reads it
    worker = voice.worker
    async with phone.call("caller_waits_for_bye", **keys) as sipp:
        started = await sipp.meanwhile(
            worker.wait_for_event("call.started", 30, twilio_call_sid=keys["call_sid"])
        )
        call_id = started["call_id"]
        missing = await sipp.meanwhile(
            worker.wait_for_event("call.agent_missing", 30, call_id=call_id)
        )
        result = await sipp.wait()
        assert result.returncode == 0, result.describe()
    answered = await worker.wait_for_event("call.answered", call_id=call_id)
    ended = await worker.wait_for_event("call.ended", call_id=call_id)

    assert AGENT_TIMEOUT_S <= missing["waited_s"] < AGENT_TIMEOUT_S + 1.0, missing
    assert missing["agents"], missing  # the silent agent was in the room
    (bye,) = received(sip_messages(result), "BYE")
    assert bye.header("X-Hangup-Reason") == "agent-missing", bye.text
    assert (ended["outcome"], ended["ended_by"]) == ("completed", "agent"), ended
    assert ended["agent_missing"] is True
    assert answered["seq"] < missing["seq"] < ended["seq"]

"""A real livekit-agents voice agent (tests/live/voice_agent.py: an AgentSession with scripted
local models) answers a real SIP call whose caller speaks in bursts with known gaps: what a
participant that subscribes to nothing, as our worker, learns of it, and when.
docs/REAL-LIVEKIT.md, "A voice agent, seen without subscribing", has the measured figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .listener import AGENT_NAME, AGENT_STATE, Facts, listening_after
from .records import Record
from .repeat import runs
from .sipp import Bursts, Phone
from .stack import Stack
from .voice import VoiceCall, VoiceLine, voice_call
from .voice_agent import VoiceScript

pytestmark = pytest.mark.live

TURNS = 2
"""Caller bursts answered per call (after the greeting)."""
ORDER_S = 0.5
"""How far apart two participants' facts, sent together, may reach a third, in either order."""
LATE_S = 2.0
"""How late a state change may come on a loaded 2-core machine (measured: 0.6 s or less)."""


def agent_seen(facts: Facts, name: str) -> Record:
    """The voice agent's arrival (`joined`, or `present` if it was there before us)."""
    return next(
        r
        for r in facts.all()
        if r["fact"] in ("joined", "present") and r["attributes"].get(AGENT_NAME) == name
    )


def texts(facts: Facts, identity: str) -> list[Record]:
    return [r for r in facts.all() if r["fact"] == "text" and r["identity"] == identity]


async def hang_up(live_stack: Stack, call: VoiceCall) -> None:
    call.sipp.go()
    result = await call.sipp.wait()
    assert result.returncode == 0, result.describe()
    await call.facts.wait_for(
        lambda r: r["fact"] == "left" and r["kind"] == "SIP", 30, "the caller leaving"
    )


@pytest.mark.parametrize("run", runs())
async def test_a_voice_agent_seen_without_subscribing(
    run: int,
    live_stack: Stack,
    voice_line: Callable[..., VoiceLine],
    phone: Phone,
    tmp_path: Path,
) -> None:
    """The agent joins as AGENT with `lk.agent.name`, its audio track answers the call, it
    greets (speaking -> listening), and after each caller burst goes thinking -> speaking ->
    listening, thinking after the burst ended, speaking for its reply's length; transcripts of
    both sides arrive as `lk.transcription` text streams; no active-speaker update ever."""
    voice = voice_line()
    script = voice.script
    async with voice_call(live_stack, phone, voice, Bursts(), tmp_path) as call:
        facts = call.facts
        done = listening_after(1 + TURNS, "speaking")
        await call.sipp.meanwhile(facts.wait_for(done, 60, "the last reply's end"))
        await hang_up(live_stack, call)
    (tmp_path / "facts.json").write_text(json.dumps(facts.timeline(), indent=1))

    agent = agent_seen(facts, script.name)
    me = agent["identity"]
    assert agent["kind"] == "AGENT", agent
    # Its first state comes with its joining or just after (both seen), before it speaks.
    states = facts.states(me)
    first = agent["attributes"].get(AGENT_STATE)
    before = [first] if first else []
    while states and states[0][1] != "speaking":
        before.append(states.pop(0)[1])
    assert before and set(before) <= {"initializing", "idle", "listening"}, (agent, before)
    track = next(r for r in facts.all() if r["fact"] == "published" and r["identity"] == me)
    assert track["source"] == "MICROPHONE", track
    answered = call.answered_at()
    # The agent's track is what answers the call; the two facts come from two participants,
    # so a third sees them in either order (seen: the track 20 ms after the status).
    assert track["t"] <= answered + ORDER_S, (track, answered)

    names = [state for _, state in states]
    assert (
        names[: 2 + 3 * TURNS]
        == ["speaking", "listening"]
        + [
            "thinking",
            "speaking",
            "listening",
        ]
        * TURNS
    ), states
    greeting, greeted = states[0][0], states[1][0]
    # The greeting may reach us just before the answer: two participants' facts (seen: 36 ms).
    assert answered - ORDER_S <= greeting < answered + LATE_S, (answered, states)
    assert greeted - greeting >= script.speech_s * 0.9
    for n in range(TURNS):
        (thinking, _), (speaking, _), (listening, _) = states[2 + 3 * n : 5 + 3 * n]
        burst_end = answered + call.bursts.burst(n)[1]
        assert burst_end < thinking < burst_end + LATE_S, (n, burst_end, states)
        assert thinking < speaking < thinking + script.reply_delay_s + LATE_S, (n, states)
        assert listening - speaking >= script.speech_s * 0.9, (n, states)

    said = texts(facts, me)
    assert [r["text"] for r in said][: 1 + TURNS] == [script.greeting] + [
        f"reply {n}." for n in range(1, 1 + TURNS)
    ], said
    assert all(r["topic"] == "lk.transcription" for r in said), said
    assert all(r["attributes"]["lk.transcribed_track_id"] == track["track"] for r in said)
    speaking_at = [t for t, state in states if state == "speaking"]
    assert all(r["t"] >= t for r, t in zip(said, speaking_at, strict=False)), (said, states)
    caller = next(r for r in facts.all() if r["kind"] == "SIP" and r["fact"] == "present")
    heard = [
        r
        for r in texts(facts, caller["identity"])
        if r["attributes"]["lk.transcription_final"] == "true"
    ]
    assert [r["text"] for r in heard][:TURNS] == [f"caller turn {n}" for n in range(1, 1 + TURNS)]

    assert [r for r in facts.all() if r["fact"] == "speakers"] == []


async def test_an_agent_that_never_speaks(
    live_stack: Stack, voice_line: Callable[..., VoiceLine], phone: Phone, tmp_path: Path
) -> None:
    """An agent whose model answers nothing: it joins, its track answers the call, it thinks
    after each caller burst and goes back to listening, never `speaking`; no transcript of
    its own."""
    voice = voice_line(VoiceScript(silent=True))
    async with voice_call(live_stack, phone, voice, Bursts(), tmp_path) as call:
        facts = call.facts
        done = listening_after(TURNS, "thinking")
        await call.sipp.meanwhile(facts.wait_for(done, 60, "the last turn's end"))
        await hang_up(live_stack, call)

    me = agent_seen(facts, voice.script.name)["identity"]
    states = facts.states(me)
    assert "speaking" not in [state for _, state in states], states
    assert any(r["fact"] == "published" and r["identity"] == me for r in facts.all())
    assert texts(facts, me) == []

"""The measuring fold: figures from room facts, and their invariants under any order and
spacing of facts (hypothesis)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.call_health import (
    FIGURES,
    AgentAudio,
    AgentJoined,
    AgentLeft,
    AgentState,
    AgentStateChanged,
    Answered,
    CallerSpeech,
    CallHealth,
    Fact,
    Rang,
    Thresholds,
    measure,
)
from agent.errors import ConfigError
from agent.settings import load_settings

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
S = AgentState


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def state(seconds: float, value: AgentState | None, agent: str = "agent-1") -> AgentStateChanged:
    return AgentStateChanged(at(seconds), agent, value)


def test_every_figure_names_its_source_and_resolution() -> None:
    assert set(FIGURES) == {f.name for f in dataclasses.fields(CallHealth)}


def test_a_voice_agent_conversation() -> None:
    facts: list[Fact] = [
        AgentJoined(at(0.5), "agent-1", "support-agent"),
        state(0.6, S.INITIALIZING),
        AgentAudio(at(1.0), "agent-1", published=True),
        Answered(at(1.2)),
        state(1.5, S.LISTENING),
        state(2.0, S.SPEAKING),  # the greeting: no caller turn before it
        state(5.0, S.LISTENING),
        state(9.0, S.THINKING),  # the caller's turn ended
        state(9.8, S.SPEAKING),
        state(12.0, S.LISTENING),
        state(15.0, S.THINKING),
        state(18.5, S.SPEAKING),  # 3.5 s: slow
        state(19.0, S.THINKING),  # cut off: a new caller turn while it spoke
        state(19.5, S.LISTENING),  # and that thinking never answered
        state(20.0, S.THINKING),
        state(20.5, S.SPEAKING),
        state(22.0, S.LISTENING),
    ]
    health = measure(T0, facts, at(40.0))
    assert health.agent_name == "support-agent"
    assert health.agent_join_s == 0.5
    assert health.agent_join_after_answer_s == -0.7
    assert health.agent_audio_s == 1.0
    assert health.agent_first_speech_s == 2.0
    assert health.agent_first_speech_after_answer_s == 0.8
    assert health.responses_s == (0.8, 3.5, 0.5)
    assert (health.response_p50_s, health.response_p95_s, health.response_max_s) == (
        0.8,
        3.5,
        3.5,
    )
    assert health.slow_responses == 1
    assert health.interruptions == 1
    assert (health.unanswered_thinking, health.unanswered_thinking_s) == (1, 0.5)
    assert health.agent_talk_s == 3.0 + 2.2 + 0.5 + 1.5
    assert health.caller_talk_s is None and health.agent_talk_share is None
    assert health.active_s == 38.8
    assert health.longest_silence_s == 18.0  # 22 s to the end at 40 s
    assert health.long_silences == 1
    # The 0.8 s before the greeting is under a second: counted, not listed.
    assert (health.silences[0].start_s, health.silences[0].length_s) == (5.0, 4.8)
    assert not health.agent_left_early and not health.agent_missing
    assert health.unhealthy


def test_an_agent_that_never_speaks_is_missing() -> None:
    facts: list[Fact] = [
        AgentJoined(at(0.0), "agent-1", None),
        Answered(at(1.0)),
        state(1.0, S.LISTENING),
        AgentLeft(at(20.0), "agent-1"),
    ]
    health = measure(T0, facts, at(30.0))
    assert health.agent_missing and health.agent_left_early
    assert health.agent_first_speech_s is None
    assert health.silences == (dataclasses.replace(health.silences[0], start_s=1.0),)
    assert health.longest_silence_s == 29.0
    # Too short a call to say: the timeout never ran out.
    assert not measure(T0, facts[:3], at(5.0)).agent_missing


def test_caller_speech_where_known_gives_turns_and_talk_share() -> None:
    facts: list[Fact] = [
        Answered(at(0.0)),
        CallerSpeech(at(1.0), speaking=True),
        CallerSpeech(at(3.0), speaking=False),
        state(3.4, S.THINKING),
        state(4.0, S.SPEAKING),  # from the caller's end of speech: 1.0
        CallerSpeech(at(5.0), speaking=True),  # speaks over the agent
        state(5.2, S.LISTENING),  # cut off by the caller
        CallerSpeech(at(6.0), speaking=False),
    ]
    health = measure(T0, facts, at(6.0))
    assert health.responses_s == (1.0,)
    assert health.interruptions == 1
    assert (health.agent_talk_s, health.caller_talk_s) == (1.2, 3.0)
    assert health.agent_talk_share == 0.29
    # Measured from the first caller speech fact: before it, nothing said who spoke.
    assert (health.active_s, health.speech_s, health.silence_s) == (5.0, 4.0, 1.0)


def test_ringing_figures_outbound() -> None:
    health = measure(T0, [Rang(at(1.5)), Answered(at(7.25))], at(8.0))
    assert (health.first_ring_s, health.answer_s) == (1.5, 7.25)


def test_figures_are_never_more_precise_than_the_signalling() -> None:
    health = measure(T0, [Answered(at(0.123456)), state(1.0, S.SPEAKING)], at(2.0))
    assert health.answer_s == 0.12
    assert health.agent_first_speech_after_answer_s == 0.88


# -- any order, any spacing ----------------------------------------------------------------

AGENTS = ("agent-1", "agent-2")
fact_kinds = st.sampled_from(("state", "join", "leave", "audio", "caller", "answer", "ring"))


@st.composite
def fact_lists(draw: st.DrawFn) -> tuple[list[Fact], float]:
    now = 0.0
    facts: list[Fact] = []
    for _ in range(draw(st.integers(0, 40))):
        # Any spacing, including facts at the same instant and stamps that go backwards.
        now = max(0.0, now + draw(st.floats(-0.5, 12.0, allow_nan=False)))
        agent = draw(st.sampled_from(AGENTS))
        match draw(fact_kinds):
            case "state":
                facts.append(state(now, draw(st.sampled_from([*AgentState, None])), agent))
            case "join":
                facts.append(AgentJoined(at(now), agent, draw(st.sampled_from(["a", None]))))
            case "leave":
                facts.append(AgentLeft(at(now), agent))
            case "audio":
                facts.append(AgentAudio(at(now), agent, draw(st.booleans())))
            case "caller":
                facts.append(CallerSpeech(at(now), draw(st.booleans())))
            case "answer":
                facts.append(Answered(at(now)))
            case _:
                facts.append(Rang(at(now)))
    return facts, now + draw(st.floats(0, 30, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(fact_lists(), st.sampled_from([Thresholds(), Thresholds(0, 0, 0), Thresholds(1, 1, 1)]))
def test_any_order_and_spacing_gives_consistent_figures(
    case: tuple[list[Fact], float], thresholds: Thresholds
) -> None:
    facts, end = case
    health = measure(T0, facts, at(end), thresholds)
    tolerance = 0.021  # each figure is rounded to 0.01 s on its own
    assert all(r >= 0 for r in health.responses_s)
    assert health.turns == len(health.responses_s)
    if health.responses_s:
        assert health.response_p50_s is not None and health.response_p95_s is not None
        assert health.response_p50_s <= health.response_p95_s <= (health.response_max_s or 0)
    assert health.silence_s >= 0 and health.speech_s >= 0 and health.agent_talk_s >= 0
    assert abs(health.silence_s + health.speech_s - health.active_s) <= tolerance
    assert health.longest_silence_s <= health.silence_s + tolerance
    assert sum(s.length_s for s in health.silences) <= health.silence_s + tolerance
    assert all(s.start_s >= (health.answer_s or 0) - tolerance for s in health.silences)
    assert health.unanswered_thinking_s >= 0
    if health.agent_talk_share is not None:
        assert 0 <= health.agent_talk_share <= 1
    if health.answer_s is None:
        assert health.active_s == 0 and not health.silences and not health.agent_missing
    else:
        assert health.active_s <= max(end, facts[-1].at.timestamp() - T0.timestamp()) + tolerance
    if health.agent_missing:
        assert health.long_silences >= 0 and health.answer_s is not None
    assert health.slow_responses <= health.turns


def test_health_thresholds_that_cannot_work_stop_start_up_naming_the_setting() -> None:
    for name, value in (("silence_s", "inf"), ("agent_timeout_s", "-1"), ("slow_response_s", "x")):
        with pytest.raises(ConfigError, match=f"invalid setting SIP_AGENT_{name.upper()}"):
            load_settings(_env_file=None, **{name: value})

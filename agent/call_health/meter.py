"""The measuring fold: room facts in the order they arrived, a call's health out.

Pure: no I/O and no clock; time comes with each fact. A fact stamped earlier than the one
before it (two clocks, or a replay) counts at the later time, so no figure goes negative.
Cheap per fact (a few comparisons): a worker feeds every agent state change to every call
of its room.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .facts import (
    AgentAudio,
    AgentJoined,
    AgentLeft,
    AgentMuted,
    AgentState,
    AgentStateChanged,
    Answered,
    CallerSpeech,
    Fact,
    Rang,
)
from .figures import (
    MAX_LISTED_SILENCES,
    REPORTED_SILENCE_S,
    CallHealth,
    Silence,
    Thresholds,
    maybe,
    nearest_rank,
    rounded,
)

_CUT_OFF_BY_CALLER = frozenset({AgentState.LISTENING, AgentState.THINKING})


@dataclass(slots=True)
class _Agent:
    state: AgentState | None = None
    thinking_since: float | None = None


class HealthMeter:
    """One call's fold. Times are seconds from the call's start (`start`)."""

    __slots__ = (
        "_agent_talk_since",
        "_agents",
        "_caller_since",
        "_caller_spoke_over",
        "_caller_turn_end",
        "_ended",
        "_listed",
        "_speaking",
        "_start",
        "_stretch_quiet",
        "_stretch_start",
        "agent_audio_s",
        "agent_join_s",
        "agent_mutes",
        "agent_name",
        "agent_talk_s",
        "agents_joined",
        "answered_s",
        "caller_known",
        "caller_talk_s",
        "first_speech_s",
        "interruptions",
        "long_silences",
        "longest_silence_s",
        "measured_from_s",
        "now_s",
        "rang_s",
        "responses_s",
        "silence_total_s",
        "silences_not_listed",
        "speech_total_s",
        "thresholds",
        "unanswered_thinking",
        "unanswered_thinking_s",
    )

    def __init__(self, start: datetime, thresholds: Thresholds | None = None) -> None:
        self._start = start
        self.thresholds = thresholds or Thresholds()
        self.now_s = 0.0
        self.rang_s: float | None = None
        self.answered_s: float | None = None
        self.agent_name: str | None = None
        self.agents_joined = 0
        self.agent_join_s: float | None = None
        self.agent_audio_s: float | None = None
        self.agent_mutes = 0
        self.first_speech_s: float | None = None
        self._agents: dict[str, _Agent] = {}
        self._speaking = 0
        """Agents in `speaking` now."""
        self._agent_talk_since: float | None = None
        self.agent_talk_s = 0.0
        self.caller_known = False
        self._caller_since: float | None = None
        """When the caller started speaking, while they speak."""
        self.caller_talk_s = 0.0
        self._caller_turn_end: float | None = None
        """The caller stopped speaking, and no agent has spoken since."""
        self._caller_spoke_over = False
        self.responses_s: list[float] = []
        self.unanswered_thinking = 0
        self.unanswered_thinking_s = 0.0
        self.interruptions = 0
        self._stretch_start: float | None = None
        """The active time is cut into stretches, quiet or not; this one began here."""
        self._stretch_quiet = False
        self.measured_from_s: float | None = None
        """Where the stretches began: the answer, or the first agent after it."""
        self.silence_total_s = 0.0
        self.speech_total_s = 0.0
        self.longest_silence_s = 0.0
        self.long_silences = 0
        self._listed: list[Silence] = []
        self.silences_not_listed = 0
        self._ended = False

    # -- reading the fold while the call goes on ------------------------------------------

    def at(self, seconds: float) -> datetime:
        """The wall-clock time of a figure's `seconds` from the call's start."""
        return self._start + timedelta(seconds=seconds)

    @property
    def silent_since_s(self) -> float | None:
        """Start of the silence going on now (the call active, nobody known to speak)."""
        return self._stretch_start if self._stretch_quiet else None

    @property
    def agents_present(self) -> tuple[str, ...]:
        return tuple(self._agents)

    # -- the fold -------------------------------------------------------------------------

    def feed(self, fact: Fact) -> None:
        if self._ended:
            return
        t = (fact.at - self._start).total_seconds()
        t = self.now_s = t if t > self.now_s else self.now_s
        match fact:
            case AgentStateChanged():
                self._state(self._agent(fact.identity, None, t), fact.state, t)
            case AgentJoined():
                self._agent(fact.identity, fact.name, t)
            case AgentLeft():
                agent = self._agents.pop(fact.identity, None)
                if agent is not None:
                    self._state(agent, None, t)
            case AgentAudio():
                if fact.published and self.agent_audio_s is None:
                    self.agent_audio_s = t
            case AgentMuted():
                if fact.muted:
                    self.agent_mutes += 1
            case CallerSpeech():
                self._caller(fact.speaking, t)
            case Answered():
                if self.answered_s is None:
                    self.answered_s = t
            case Rang():
                if self.rang_s is None:
                    self.rang_s = t
        self._stretch(t)

    def _agent(self, identity: str, name: str | None, t: float) -> _Agent:
        agent = self._agents.get(identity)
        if agent is None:
            # A state change from an agent not seen joining counts as its join.
            agent = self._agents[identity] = _Agent()
            self.agents_joined += 1
            if self.agent_join_s is None:
                self.agent_join_s = t
            # The first agent with a name: an observer of kind AGENT joining first (another
            # monitor, seen live) has none, and must not hide the voice agent's.
            if self.agent_name is None and name:
                self.agent_name = name
        return agent

    def _state(self, agent: _Agent, new: AgentState | None, t: float) -> None:
        old = agent.state
        if old is new:
            return
        agent.state = new
        if old is AgentState.SPEAKING:
            self._speaking -= 1
            if self._speaking == 0 and self._agent_talk_since is not None:
                self.agent_talk_s += t - self._agent_talk_since
                self._agent_talk_since = None
            if new is AgentState.THINKING or (
                self._caller_spoke_over and new in _CUT_OFF_BY_CALLER
            ):
                self.interruptions += 1
        if old is AgentState.THINKING and new is not AgentState.SPEAKING:
            self.unanswered_thinking += 1
            self.unanswered_thinking_s += t - (agent.thinking_since or t)
            agent.thinking_since = None
        if new is AgentState.THINKING:
            agent.thinking_since = t
        elif new is AgentState.SPEAKING:
            self._speaks(agent, t)

    def _speaks(self, agent: _Agent, t: float) -> None:
        turn_end = agent.thinking_since
        if self._caller_turn_end is not None and (
            turn_end is None or self._caller_turn_end < turn_end
        ):
            turn_end = self._caller_turn_end
        if turn_end is not None:
            self.responses_s.append(rounded(t - turn_end))
        agent.thinking_since = None
        if self.first_speech_s is None:
            self.first_speech_s = t
        if self._speaking == 0:
            self._agent_talk_since = t
        self._speaking += 1
        self._caller_turn_end = None
        self._caller_spoke_over = False

    def _caller(self, speaking: bool, t: float) -> None:
        self.caller_known = True
        if speaking and self._caller_since is None:
            self._caller_since = t
            self._caller_spoke_over = self._caller_spoke_over or self._speaking > 0
        elif not speaking and self._caller_since is not None:
            self.caller_talk_s += t - self._caller_since
            self._caller_since = None
            self._caller_turn_end = t

    def _stretch(self, t: float) -> None:
        """Cut the active time into quiet and spoken stretches, once there is someone whose
        speech is known: an agent in the room, or a caller speech source. An answered call
        no agent ever joined is someone else's (a person, a bridged SIP leg): nothing here
        says when anyone speaks, so it is not judged."""
        if self.answered_s is None or not (self.agents_joined or self.caller_known):
            return
        quiet = self._speaking == 0 and self._caller_since is None
        if self._stretch_start is None:
            self._stretch_start, self._stretch_quiet = t, quiet
            self.measured_from_s = t
        elif quiet is not self._stretch_quiet:
            self._close_stretch(t)
            self._stretch_start, self._stretch_quiet = t, quiet

    def _close_stretch(self, t: float) -> None:
        start = self._stretch_start
        if start is None:
            return
        length = t - start
        if not self._stretch_quiet:
            self.speech_total_s += length
            return
        self.silence_total_s += length
        self.longest_silence_s = max(self.longest_silence_s, length)
        limit = self.thresholds.silence_s
        if limit > 0 and length >= limit:
            self.long_silences += 1
        if length >= REPORTED_SILENCE_S:
            if len(self._listed) < MAX_LISTED_SILENCES:
                self._listed.append(Silence(start_s=rounded(start), length_s=rounded(length)))
            else:
                self.silences_not_listed += 1

    # -- the end --------------------------------------------------------------------------

    def figures(self, end: datetime) -> CallHealth:
        """The call ended at `end`: close what is open and report. Later facts are ignored."""
        t = max((end - self._start).total_seconds(), self.now_s)
        if not self._ended:
            self._ended = True
            self.now_s = t
            for agent in self._agents.values():
                if agent.state is AgentState.THINKING:
                    self._state(agent, None, t)
            if self._agent_talk_since is not None:
                self.agent_talk_s += t - self._agent_talk_since
            if self._caller_since is not None:
                self.caller_talk_s += t - self._caller_since
            self._close_stretch(t)
        return self._health(t)

    def _health(self, t: float) -> CallHealth:
        answered = self.answered_s
        first = self.first_speech_s
        ordered = sorted(self.responses_s)
        timeout = self.thresholds.agent_timeout_s
        missing = (
            timeout > 0
            and answered is not None
            and self.agents_joined > 0
            and t - answered >= timeout
            and (first is None or first - answered > timeout)
        )
        slow = self.thresholds.slow_response_s
        caller = self.caller_talk_s if self.caller_known else None
        talked = self.agent_talk_s + (caller or 0.0)
        return CallHealth(
            first_ring_s=maybe(self.rang_s),
            answer_s=maybe(answered),
            agent_name=self.agent_name,
            agents_joined=self.agents_joined,
            agent_join_s=maybe(self.agent_join_s),
            agent_join_after_answer_s=_between(answered, self.agent_join_s),
            agent_audio_s=maybe(self.agent_audio_s),
            agent_first_speech_s=maybe(first),
            agent_first_speech_after_answer_s=_between(answered, first),
            agent_left_early=self.agents_joined > 0 and not self._agents,
            agent_missing=missing,
            agent_mutes=self.agent_mutes,
            turns=len(ordered),
            responses_s=tuple(self.responses_s),
            response_p50_s=nearest_rank(ordered, 50),
            response_p95_s=nearest_rank(ordered, 95),
            response_max_s=ordered[-1] if ordered else None,
            slow_responses=sum(1 for r in ordered if slow > 0 and r > slow),
            unanswered_thinking=self.unanswered_thinking,
            unanswered_thinking_s=rounded(self.unanswered_thinking_s),
            interruptions=self.interruptions,
            agent_talk_s=rounded(self.agent_talk_s),
            caller_talk_s=maybe(caller),
            agent_talk_share=(
                round(self.agent_talk_s / talked, 2) if caller is not None and talked else None
            ),
            active_s=rounded(t - self.measured_from_s) if self.measured_from_s is not None else 0.0,
            speech_s=rounded(self.speech_total_s),
            silence_s=rounded(self.silence_total_s),
            longest_silence_s=rounded(self.longest_silence_s),
            long_silences=self.long_silences,
            silences=tuple(self._listed),
            silences_not_listed=self.silences_not_listed,
        )


def _between(start: float | None, end: float | None) -> float | None:
    return rounded(end - start) if start is not None and end is not None else None


def measure(
    start: datetime, facts: Iterable[Fact], end: datetime, thresholds: Thresholds | None = None
) -> CallHealth:
    """The health of a call that started at `start` and ended at `end`, from its facts."""
    meter = HealthMeter(start, thresholds)
    for fact in facts:
        meter.feed(fact)
    return meter.figures(end)

"""A call's health figures, what each comes from and how precise it can be.

Every time is stamped by the worker's clock when the room event arrives: LiveKit's signalling
delivers them a few ms after they happen, with a few ms of jitter (1-30 ms between the SIP
wire and the room event, docs in DOMAIN.md), so figures are rounded to 10 ms
(`RESOLUTION_S`). Counts are exact.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RESOLUTION_S = 0.01
REPORTED_SILENCE_S = 1.0
"""Silence stretches this long or longer are listed one by one; all count in the totals."""
MAX_LISTED_SILENCES = 100
"""Bound on the listed stretches (a long call with many pauses): the rest are counted."""


class Source(enum.StrEnum):
    """Where a figure comes from; all arrive without subscribing to any media."""

    CALL_STATUS = "sip.callStatus changes on the SIP participant"
    AGENT_PRESENCE = "participant_connected / participant_disconnected of kind AGENT"
    AGENT_TRACKS = "track_published / track_muted of an AGENT participant"
    AGENT_STATE = "lk.agent.state changes on AGENT participants (livekit-agents)"
    AGENT_STATE_AND_CALLER_SPEECH = "lk.agent.state, and caller speech where a source knows it"


@dataclass(frozen=True, slots=True)
class Figure:
    source: Source
    resolution_s: float | None
    """None for counts and flags (exact)."""


def _f(source: Source, resolution: float | None = RESOLUTION_S) -> Figure:
    return Figure(source, resolution)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What counts as too long; 0 turns a check off. Settings `SIP_AGENT_SILENCE_S`,
    `SIP_AGENT_AGENT_TIMEOUT_S`, `SIP_AGENT_SLOW_RESPONSE_S`."""

    silence_s: float = 15.0
    agent_timeout_s: float = 10.0
    slow_response_s: float = 3.0


@dataclass(frozen=True, slots=True)
class Silence:
    """A stretch while the call was active in which nobody was known to speak."""

    start_s: float
    """From the call's start (first sight of the call)."""
    length_s: float


@dataclass(frozen=True, kw_only=True, slots=True)
class CallHealth:
    """The health of one call, carried by `call.ended`. Times in seconds; None: not known
    (never happened, or no source for it). `FIGURES` names each one's source and resolution."""

    first_ring_s: float | None
    """Outbound: post-dial delay, from the call's start to its first `ringing`."""
    answer_s: float | None
    """From the call's start to `active`."""
    agent_name: str | None
    """`lk.agent.name` of the first agent that joined with one (observers have none)."""
    agents_joined: int
    agent_join_s: float | None
    """First agent in the room, from the call's start (0: already there)."""
    agent_join_after_answer_s: float | None
    """The same from the answer; negative when the agent joined first (the usual inbound
    case: LiveKit answers once the agent publishes audio)."""
    agent_audio_s: float | None
    """First audio track an agent published, from the call's start."""
    agent_first_speech_s: float | None
    """First `speaking`, from the call's start."""
    agent_first_speech_after_answer_s: float | None
    """The same from the answer; slightly negative when the agent's `speaking` reached the
    worker before the answer did (two participants' facts come in either order)."""
    agent_left_early: bool
    """An agent had joined and none was left when the call ended."""
    agent_missing: bool
    """Answered, up `agent_timeout_s` or longer, an agent came, and none spoke within that
    time of the answer. A call no agent ever joined is not judged (see `active_s`)."""
    agent_mutes: int
    """Times an agent muted a track."""
    turns: int
    responses_s: tuple[float, ...]
    """Per turn: from the end of the caller's turn (`thinking`, or the caller's speech ending
    where known, whichever came first) to `speaking`."""
    response_p50_s: float | None
    response_p95_s: float | None
    """Nearest-rank percentiles of `responses_s`."""
    response_max_s: float | None
    slow_responses: int
    """Turns slower than `slow_response_s`."""
    unanswered_thinking: int
    """`thinking` stretches that ended without `speaking` (back to listening, or left)."""
    unanswered_thinking_s: float
    interruptions: int
    """`speaking` cut off: it went straight to `thinking` (a new caller turn came in while
    the agent spoke), or the caller was known to start speaking during it."""
    agent_talk_s: float
    """Time some agent was `speaking`."""
    caller_talk_s: float | None
    """Known only with a caller speech source."""
    agent_talk_share: float | None
    """agent_talk_s / (agent_talk_s + caller_talk_s), to 0.01."""
    active_s: float
    """The time silence and speech are measured in: from the answer (or the first agent in
    the room, if later) to the end. 0 when no agent came and no caller speech is known: an
    answered call no agent joined is someone else's (a person, a bridged SIP leg)."""
    speech_s: float
    """Active time in which someone was known to speak."""
    silence_s: float
    """Active time in which nobody was known to speak (active_s = speech_s + silence_s)."""
    longest_silence_s: float
    long_silences: int
    """Stretches of `silence_s` threshold or longer (each raised `call.silence`)."""
    silences: tuple[Silence, ...]
    """Stretches of REPORTED_SILENCE_S or longer, in order, at most MAX_LISTED_SILENCES."""
    silences_not_listed: int

    @property
    def unhealthy(self) -> bool:
        """Agent missing, a long silence or a slow response."""
        return self.agent_missing or self.long_silences > 0 or self.slow_responses > 0


FIGURES: Mapping[str, Figure] = {
    "first_ring_s": _f(Source.CALL_STATUS),
    "answer_s": _f(Source.CALL_STATUS),
    "agent_name": _f(Source.AGENT_PRESENCE, None),
    "agents_joined": _f(Source.AGENT_PRESENCE, None),
    "agent_join_s": _f(Source.AGENT_PRESENCE),
    "agent_join_after_answer_s": _f(Source.AGENT_PRESENCE),
    "agent_audio_s": _f(Source.AGENT_TRACKS),
    "agent_first_speech_s": _f(Source.AGENT_STATE),
    "agent_first_speech_after_answer_s": _f(Source.AGENT_STATE),
    "agent_left_early": _f(Source.AGENT_PRESENCE, None),
    "agent_missing": _f(Source.AGENT_STATE, None),
    "agent_mutes": _f(Source.AGENT_TRACKS, None),
    "turns": _f(Source.AGENT_STATE, None),
    "responses_s": _f(Source.AGENT_STATE_AND_CALLER_SPEECH),
    "response_p50_s": _f(Source.AGENT_STATE_AND_CALLER_SPEECH),
    "response_p95_s": _f(Source.AGENT_STATE_AND_CALLER_SPEECH),
    "response_max_s": _f(Source.AGENT_STATE_AND_CALLER_SPEECH),
    "slow_responses": _f(Source.AGENT_STATE_AND_CALLER_SPEECH, None),
    "unanswered_thinking": _f(Source.AGENT_STATE, None),
    "unanswered_thinking_s": _f(Source.AGENT_STATE),
    "interruptions": _f(Source.AGENT_STATE_AND_CALLER_SPEECH, None),
    "agent_talk_s": _f(Source.AGENT_STATE),
    "caller_talk_s": _f(Source.AGENT_STATE_AND_CALLER_SPEECH),
    "agent_talk_share": _f(Source.AGENT_STATE_AND_CALLER_SPEECH, 0.01),
    "active_s": _f(Source.CALL_STATUS),
    "speech_s": _f(Source.AGENT_STATE_AND_CALLER_SPEECH),
    "silence_s": _f(Source.AGENT_STATE_AND_CALLER_SPEECH),
    "longest_silence_s": _f(Source.AGENT_STATE_AND_CALLER_SPEECH),
    "long_silences": _f(Source.AGENT_STATE_AND_CALLER_SPEECH, None),
    "silences": _f(Source.AGENT_STATE_AND_CALLER_SPEECH),
    "silences_not_listed": _f(Source.AGENT_STATE_AND_CALLER_SPEECH, None),
}
"""Source and resolution of every `CallHealth` field (tests check none is left out)."""


def rounded(seconds: float) -> float:
    """To the figures' resolution: never more precise than the room's signalling."""
    return round(round(seconds / RESOLUTION_S) * RESOLUTION_S, 2)


def maybe(seconds: float | None) -> float | None:
    return None if seconds is None else rounded(seconds)


def nearest_rank(ordered: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile of an ascending sequence (a value that occurred)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]

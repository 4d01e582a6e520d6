"""The room facts a call's health is measured from: each one timestamped by the worker.

All of them reach a participant that subscribes to nothing (livekit-server 1.13.5): joins and
leaves with their kind, attribute changes (`lk.agent.state`), track publications and mutes.
Caller speech is a fact only where some source knows it (none by default: the server's
speaker updates need an audio subscription).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

STATE_KEY = "lk.agent.state"
"""livekit-agents' `ATTRIBUTE_AGENT_STATE` (livekit/agents/voice/room_io)."""
NAME_KEY = "lk.agent.name"


class AgentState(enum.StrEnum):
    """`lk.agent.state` as livekit-agents writes it."""

    INITIALIZING = "initializing"
    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    """The agent decided the caller's turn is over and prepares its answer."""
    SPEAKING = "speaking"
    """The agent's audio started."""


def agent_state(raw: str | None) -> AgentState | None:
    """The state a raw attribute value names; None for no value or an unknown one."""
    try:
        return AgentState(raw) if raw is not None else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class AgentJoined:
    at: datetime
    identity: str
    name: str | None
    """`lk.agent.name`, when the agent sets it."""


@dataclass(frozen=True, slots=True)
class AgentLeft:
    at: datetime
    identity: str


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    at: datetime
    identity: str
    state: AgentState | None
    """None: the attribute was removed or holds a value livekit-agents does not write."""


@dataclass(frozen=True, slots=True)
class AgentAudio:
    """An agent published (`published`) or unpublished an audio track."""

    at: datetime
    identity: str
    published: bool


@dataclass(frozen=True, slots=True)
class AgentMuted:
    at: datetime
    identity: str
    muted: bool


@dataclass(frozen=True, slots=True)
class Rang:
    """An outbound call's first ring (`dialing` -> `ringing`)."""

    at: datetime


@dataclass(frozen=True, slots=True)
class Answered:
    """The call became `active`: from here it is a conversation."""

    at: datetime


@dataclass(frozen=True, slots=True)
class CallerSpeech:
    """The caller started (`speaking`) or stopped speaking, where a source knows it."""

    at: datetime
    speaking: bool


Fact = (
    AgentJoined | AgentLeft | AgentStateChanged | AgentAudio | AgentMuted | Rang | Answered
    | CallerSpeech
)  # fmt: skip

"""Call health: how the conversation went, measured from outside the agent.

The pure part: room facts (`facts`) folded by `HealthMeter` (`meter`) into a call's
`CallHealth` (`figures`, with each figure's source and resolution). The worker feeds it in
`agent/room_calls.py` and raises the live health events from it.
"""

from __future__ import annotations

from .facts import (
    NAME_KEY,
    STATE_KEY,
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
    agent_state,
)
from .figures import FIGURES, CallHealth, Figure, Silence, Source, Thresholds
from .meter import HealthMeter, measure

__all__ = [
    "FIGURES",
    "NAME_KEY",
    "STATE_KEY",
    "AgentAudio",
    "AgentJoined",
    "AgentLeft",
    "AgentMuted",
    "AgentState",
    "AgentStateChanged",
    "Answered",
    "CallHealth",
    "CallerSpeech",
    "Fact",
    "Figure",
    "HealthMeter",
    "Rang",
    "Silence",
    "Source",
    "Thresholds",
    "agent_state",
    "measure",
]

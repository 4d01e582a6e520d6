"""The scenario model: calls, the steps that drive them, and what each call must end as.

Frozen values built by the TOML parser or in code (`agent.simulator.Script`); the player
only reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..outcome import EndedBy, Outcome
from ..standin.answers import Reply, TwirpError


@dataclass(frozen=True, slots=True)
class CallSpec:
    """A participant the scenario brings into a room: what LiveKit's SIP service would show."""

    name: str
    room: str
    identity: str
    attributes: Mapping[str, str]
    kind: str = "SIP"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Step:
    note: str = ""
    """Printed before the step runs: the story of the scenario, for whoever watches it."""


@dataclass(frozen=True, slots=True)
class Join(_Step):
    call: str


@dataclass(frozen=True, slots=True)
class SetAttributes(_Step):
    call: str
    attributes: Mapping[str, str | None]
    """None deletes the key, as an UpdateParticipant without it would."""


@dataclass(frozen=True, slots=True)
class Dtmf(_Step):
    call: str
    digits: str


@dataclass(frozen=True, slots=True)
class Publish(_Step):
    """The participant publishes a track (an agent's audio): every Room sees it, with no
    subscription."""

    call: str
    track: str = "audio"


@dataclass(frozen=True, slots=True)
class Unpublish(_Step):
    """The participant unpublishes its first track."""

    call: str


@dataclass(frozen=True, slots=True)
class Mute(_Step):
    """The participant mutes (or unmutes) its first track."""

    call: str
    muted: bool = True


@dataclass(frozen=True, slots=True)
class Wait(_Step):
    seconds: float


@dataclass(frozen=True, slots=True)
class Leave(_Step):
    call: str
    reason: str = "CLIENT_INITIATED"


@dataclass(frozen=True, slots=True)
class DeleteRoom(_Step):
    room: str


@dataclass(frozen=True, slots=True)
class Reconnect(_Step):
    """The agent's connection to LiveKit restarts: everyone vanishes, the connection is
    back, and `back_after` seconds later the participants are announced again."""

    room: str
    back_after: float = 3.0


Step = (
    Join | SetAttributes | Dtmf | Publish | Unpublish | Mute | Wait | Leave | DeleteRoom
    | Reconnect
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Expectation:
    """What one call's events must show; fields left None are not checked."""

    outcome: Outcome | None = None
    ended_by: EndedBy | None = None
    disconnect_reason: str | None = None
    events: tuple[str, ...] | None = None
    """The exact sequence of event types the call gets."""
    duration_s: float | None = None
    ringing_s: float | None = None
    talk_s: float | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    calls: Mapping[str, CallSpec]
    steps: tuple[Step, ...]
    expect: Mapping[str, Expectation] = field(default_factory=dict)
    description: str = ""
    rules: Path | None = None
    """The routing rules the scenario is written for (`rules = "..."` in the file)."""
    answers: Mapping[str, tuple[Reply | TwirpError, ...]] = field(default_factory=dict)
    """LiveKit's answers to the worker's requests, in order, by Twirp method
    (`SIP/TransferSIPParticipant`); once used up, requests succeed."""

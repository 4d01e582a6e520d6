"""Typed call events: what handlers receive, what logs and webhooks carry."""

from __future__ import annotations

import dataclasses
import enum
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .call import Call, CallStatus
from .call_health.figures import CallHealth
from .outcome import EndedBy, Outcome


@dataclass(frozen=True, kw_only=True, slots=True)
class _Event:
    call: Call
    """The call as of this event."""
    seq: int
    """Per-call sequence number, from 1: receivers order a call's events by it."""
    at: datetime
    """Wall-clock time (UTC) the worker saw what caused the event."""

    @property
    def call_id(self) -> str:
        return self.call.call_id

    @property
    def call_key(self) -> str:
        return self.call.key


@dataclass(frozen=True, kw_only=True, slots=True)
class CallStarted(_Event):
    """First sight of a call, including one already in the room when the job started."""

    type: Literal["call.started"] = "call.started"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallStatusChanged(_Event):
    """`sip.callStatus` really changed. Unknown values come as `raw` with `status` None."""

    previous: CallStatus | None
    previous_raw: str | None
    status: CallStatus | None
    raw: str | None
    type: Literal["call.status_changed"] = "call.status_changed"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallAnswered(_Event):
    """The first `active`: for outbound calls this is when the callee (or carrier) answered."""

    ringing_s: float
    type: Literal["call.answered"] = "call.answered"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallUpdated(_Event):
    """Attributes other than the status changed, e.g. a Twilio CallSid arriving late."""

    added: Mapping[str, str]
    changed: Mapping[str, str]
    removed: tuple[str, ...]
    type: Literal["call.updated"] = "call.updated"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallDtmf(_Event):
    """A DTMF digit sent by this call's participant."""

    digit: str
    code: int
    type: Literal["call.dtmf"] = "call.dtmf"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallEnded(_Event):
    """The end of the call: exactly once per call."""

    outcome: Outcome
    ended_by: EndedBy
    disconnect_reason: str
    """LiveKit's disconnect reason name, or JOB_ENDED when the job ended under the call."""
    last_status: CallStatus | None
    duration_s: float
    ringing_s: float
    talk_s: float
    sip_status_code: int | None = None
    transferred_to: str | None = None
    """The transfer target when the call ended because this worker transferred it."""
    health: CallHealth | None = None
    """How the conversation went (agent, turns, silence): see agent/call_health."""
    type: Literal["call.ended"] = "call.ended"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallTransferSucceeded(_Event):
    """A transfer (SIP REFER) of this call was accepted by the far end."""

    to: str
    type: Literal["call.transfer_succeeded"] = "call.transfer_succeeded"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallTransferFailed(_Event):
    """A transfer of this call failed; the call goes on unless someone hangs up."""

    to: str
    sip_status_code: int | None
    reason: str
    type: Literal["call.transfer_failed"] = "call.transfer_failed"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallActionFailed(_Event):
    """A call-control action on this call failed (error, timeout, refused by LiveKit)."""

    action: str
    error: str
    sip_status_code: int | None = None
    type: Literal["call.action_failed"] = "call.action_failed"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallAgentJoined(_Event):
    """An agent participant (kind AGENT) is in the call's room: joined, or already there when
    the call started. Agents are the room's: every call in the room gets this."""

    identity: str
    agent_name: str | None
    """Its `lk.agent.name`, when it sets one."""
    type: Literal["call.agent_joined"] = "call.agent_joined"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallAgentLeft(_Event):
    """An agent participant left the call's room."""

    identity: str
    agent_name: str | None
    reason: str
    """Its disconnect reason name."""
    type: Literal["call.agent_left"] = "call.agent_left"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallSilence(_Event):
    """The call is active and nobody has been known to speak for `SIP_AGENT_SILENCE_S`:
    once per silent stretch (`call.silence_ended` says how long it lasted)."""

    since: datetime
    silent_s: float
    type: Literal["call.silence"] = "call.silence"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallSilenceEnded(_Event):
    """Someone spoke after a stretch that raised `call.silence`."""

    since: datetime
    length_s: float
    type: Literal["call.silence_ended"] = "call.silence_ended"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallAgentMissing(_Event):
    """The call has been active `SIP_AGENT_AGENT_TIMEOUT_S` and no agent has spoken: once
    per call."""

    waited_s: float
    agents: tuple[str, ...]
    """Identities of the agents in the room (none: no agent came)."""
    type: Literal["call.agent_missing"] = "call.agent_missing"


@dataclass(frozen=True, kw_only=True, slots=True)
class CallSlowResponse(_Event):
    """A turn's response time (the caller's turn over to the agent speaking) passed
    `SIP_AGENT_SLOW_RESPONSE_S`; raised when the agent starts speaking."""

    identity: str
    agent_name: str | None
    response_s: float
    type: Literal["call.slow_response"] = "call.slow_response"


CallEvent = (
    CallStarted
    | CallStatusChanged
    | CallAnswered
    | CallUpdated
    | CallDtmf
    | CallEnded
    | CallTransferSucceeded
    | CallTransferFailed
    | CallActionFailed
    | CallAgentJoined
    | CallAgentLeft
    | CallSilence
    | CallSilenceEnded
    | CallAgentMissing
    | CallSlowResponse
)
EVENT_TYPES: tuple[str, ...] = tuple(
    str(next(f.default for f in dataclasses.fields(member) if f.name == "type"))
    for member in typing.get_args(CallEvent)
)
"""Every event's `type`, in the union's order: what rules, webhooks and logs accept."""


def _plain(value: object) -> Any:
    """JSON-ready form of a field value."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def call_to_dict(call: Call) -> dict[str, Any]:
    """The call as JSON-ready data, numbers whole: callers mask them where policy says so."""
    data: dict[str, Any] = _plain(call)
    del data["attributes"]
    data["status_unknown"] = call.status_is_unknown
    return data


def event_to_dict(event: CallEvent) -> dict[str, Any]:
    """The event as JSON-ready data: `type`, `seq`, `at`, `call` and the event's own fields."""
    data: dict[str, Any] = {"type": event.type, "seq": event.seq, "at": event.at.isoformat()}
    for f in dataclasses.fields(event):
        if f.name not in ("type", "seq", "at", "call"):
            data[f.name] = _plain(getattr(event, f.name))
    data["call"] = call_to_dict(event.call)
    return data

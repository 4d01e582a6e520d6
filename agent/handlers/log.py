"""The `log` handler: one structured line per call event."""

from __future__ import annotations

from typing import Any

from ..events import (
    CallActionFailed,
    CallAgentJoined,
    CallAgentLeft,
    CallAgentMissing,
    CallAnswered,
    CallDtmf,
    CallEnded,
    CallEvent,
    CallSilence,
    CallSilenceEnded,
    CallSlowResponse,
    CallStatusChanged,
    CallTransferFailed,
    CallTransferSucceeded,
    CallUpdated,
)
from ..logs import make_logger
from ..privacy import mask_number
from ..settings import PhoneNumbers, Settings

# Attribute values in `call.updated` lines are cut here: a log line is not a header dump.
LOGGED_VALUE_CHARS = 200


def _short(value: str) -> str:
    return value if len(value) <= LOGGED_VALUE_CHARS else value[:LOGGED_VALUE_CHARS] + "…"


def event_fields(event: CallEvent, numbers: PhoneNumbers) -> dict[str, Any]:
    """The fields of one log line; numbers follow the privacy setting."""
    call = event.call
    fields: dict[str, Any] = {
        "call_id": call.call_id,
        "call_key": call.key,
        "seq": event.seq,
        "room": call.room,
        "direction": call.direction.value,
        "status": call.raw_status,
        "from": mask_number(call.from_number, numbers),
        "to": mask_number(call.to_number, numbers),
    }
    if call.twilio_call_sid:
        fields["twilio_call_sid"] = call.twilio_call_sid
    if call.providers.telnyx_call_leg_id:
        fields["telnyx_call_leg_id"] = call.providers.telnyx_call_leg_id
    if call.trunk_id:
        fields["trunk_id"] = call.trunk_id
    match event:
        case CallStatusChanged():
            fields["previous_status"] = event.previous_raw
            if event.status is None:
                fields["status_unknown"] = True
        case CallAnswered():
            fields["ringing_s"] = round(event.ringing_s, 3)
        case CallUpdated():
            if event.added:
                fields["added"] = {k: _short(v) for k, v in event.added.items()}
            if event.changed:
                fields["changed"] = {k: _short(v) for k, v in event.changed.items()}
            if event.removed:
                fields["removed"] = list(event.removed)
        case CallDtmf():
            fields["digit"] = event.digit
        case CallTransferSucceeded():
            fields["transfer_to"] = event.to
        case CallTransferFailed():
            fields |= {"transfer_to": event.to, "reason": event.reason}
            fields["sip_status_code"] = event.sip_status_code
        case CallActionFailed():
            fields |= {"action": event.action, "error": event.error}
            fields["sip_status_code"] = event.sip_status_code
        case CallEnded():
            fields |= {
                "outcome": event.outcome.value,
                "ended_by": event.ended_by.value,
                "disconnect_reason": event.disconnect_reason,
                "duration_s": round(event.duration_s, 3),
                "ringing_s": round(event.ringing_s, 3),
                "talk_s": round(event.talk_s, 3),
            }
            if event.sip_status_code is not None:
                fields["sip_status_code"] = event.sip_status_code
            if event.transferred_to is not None:
                fields["transferred_to"] = event.transferred_to
            if (health := event.health) is not None:
                fields |= {
                    "agent_missing": health.agent_missing,
                    "turns": health.turns,
                    "response_p95_s": health.response_p95_s,
                    "longest_silence_s": health.longest_silence_s,
                }
        case _:
            fields |= _health_fields(event)
    return fields


def _health_fields(event: CallEvent) -> dict[str, Any]:
    """The own fields of the live health events."""
    match event:
        case CallAgentJoined():
            return {"agent_identity": event.identity, "agent_name": event.agent_name}
        case CallAgentLeft():
            return {
                "agent_identity": event.identity,
                "agent_name": event.agent_name,
                "reason": event.reason,
            }
        case CallSilence():
            return {"silent_s": event.silent_s}
        case CallSilenceEnded():
            return {"length_s": event.length_s}
        case CallAgentMissing():
            return {"waited_s": event.waited_s, "agents": list(event.agents)}
        case CallSlowResponse():
            return {"agent_identity": event.identity, "response_s": event.response_s}
    return {}


class LogHandler:
    """Logs every event: JSON lines under `start`, readable lines under `dev`."""

    name = "log"

    def __init__(self, settings: Settings, logger: Any | None = None) -> None:
        self._numbers = settings.phone_numbers
        self._log = logger if logger is not None else make_logger(settings)

    @classmethod
    def from_settings(cls, settings: Settings) -> LogHandler:
        return cls(settings)

    async def handle(self, event: CallEvent) -> None:
        fields = event_fields(event, self._numbers)
        if event.type == "call.status_changed" and fields.get("status_unknown"):
            self._log.warning(event.type, **fields)
        else:
            self._log.info(event.type, **fields)

    async def aclose(self) -> None:
        return None

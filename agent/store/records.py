"""What one event changes in the call log: the call's row and one timeline row."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..database.dialect import utc
from ..database.fit import fit_row
from ..events import CallEvent
from ..redaction import redacted_event
from ..settings import PhoneNumbers
from .schema import call_events, calls

# Columns every event refreshes from its call snapshot (the latest seq wins).
SNAPSHOT_COLUMNS = (
    "twilio_call_sid",
    "twilio_account_sid",
    "telnyx_call_leg_id",
    "telnyx_call_session_id",
    "amazon_contact_id",
    "providers",
    "call_id",
    "sip_call_id",
    "direction",
    "from_number",
    "to_number",
    "trunk_id",
    "rule_id",
    "room",
    "identity",
    "headers",
    "custom",
    "status",
    "last_seq",
)


@dataclass(frozen=True, slots=True)
class JobIds:
    """Which worker and job saw the call (absent outside a LiveKit job)."""

    worker_id: str | None = None
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event, ready to write: computed on the event loop, written in a thread."""

    call: dict[str, Any]
    """Column values for the call's row; `None` event fields leave the stored value alone."""
    event: dict[str, Any]
    """The timeline row."""
    data: dict[str, Any]
    """The redacted event, as stored (and sent by webhooks)."""


def _health_columns(data: dict[str, Any]) -> dict[str, Any]:
    """call.ended's health block, whole and in the columns `calls list` filters on."""
    health = data.get("health")
    if health is None:
        return {}
    return {
        "health": json.dumps(health),
        "unhealthy": bool(
            health["agent_missing"] or health["long_silences"] or health["slow_responses"]
        ),
        "agent_missing": health["agent_missing"],
        "longest_silence_s": health["longest_silence_s"],
        "response_p95_s": health["response_p95_s"],
    }


def _event_columns(data: dict[str, Any], event: CallEvent) -> dict[str, Any]:
    """Columns only some events know: answer time, and the end of the call."""
    if event.type == "call.answered":
        return {"answered_at": utc(event.at), "ringing_s": data["ringing_s"]}
    if event.type == "call.ended":
        return {
            **_health_columns(data),
            "ended_at": utc(event.at),
            **{
                k: data.get(k)
                for k in (
                    "outcome",
                    "ended_by",
                    "disconnect_reason",
                    "sip_status_code",
                    "ringing_s",
                    "talk_s",
                    "duration_s",
                )
            },
        }
    return {}


def event_record(event: CallEvent, policy: PhoneNumbers, ids: JobIds) -> EventRecord:
    data = redacted_event(event, policy)
    call = data["call"]
    providers = call["providers"]
    values: dict[str, Any] = {
        "call_key": event.call.key,
        "call_id": event.call_id,
        "twilio_call_sid": providers["twilio_call_sid"],
        "twilio_account_sid": providers["twilio_account_sid"],
        "telnyx_call_leg_id": providers["telnyx_call_leg_id"],
        "telnyx_call_session_id": providers["telnyx_call_session_id"],
        "amazon_contact_id": providers["amazon_contact_id"],
        "providers": json.dumps({k: v for k, v in providers.items() if v is not None}),
        "sip_call_id": call["sip_call_id"],
        "direction": call["direction"],
        "from_number": call["from_number"],
        "to_number": call["to_number"],
        "trunk_id": call["trunk_id"],
        "rule_id": call["rule_id"],
        "room": call["room"],
        "identity": call["identity"],
        "headers": json.dumps(call["headers"]),
        "custom": json.dumps(call["custom"]),
        "status": call["raw_status"],
        "started_at": utc(event.call.first_seen),
        "worker_id": ids.worker_id,
        "job_id": ids.job_id,
        "last_seq": event.seq,
        **_event_columns(data, event),
    }
    values, changed = fit_row(calls, values)
    if changed:
        values["sanitized"] = ",".join(changed)
    row, _ = fit_row(
        call_events,
        {
            "call_key": event.call.key,
            "seq": event.seq,
            "type": event.type,
            "at": utc(event.at),
            "data": json.dumps(data),
        },
    )
    return EventRecord(call=values, event=row, data=data)

"""What one webhook delivery carries: its stable id and its JSON body."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..events import CallEvent

# Twilio's CallStatus for the statuses LiveKit writes (its names, for Twilio-shaped receivers).
_TWILIO_STATUS = {
    "dialing": "initiated",
    "ringing": "ringing",
    "automation": "in-progress",
    "active": "in-progress",
    "hangup": "completed",
}


def webhook_id(event: CallEvent) -> str:
    """The Standard Webhooks `webhook-id`: the same for every retry of one event, so it is
    the receiver's idempotency key; derived, not random, so a replayed event keeps it. From
    the call's own key: LiveKit's call id can repeat, and a repeat would be dropped."""
    digest = hashlib.sha256(f"{event.call.key}\n{event.seq}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def twilio_fields(event: CallEvent, data: dict[str, Any]) -> dict[str, Any]:
    """Twilio status-callback names, for receivers written for Twilio."""
    call = data["call"]
    status = data.get("outcome") if event.type == "call.ended" else None
    fields: dict[str, Any] = {
        "CallSid": call["providers"]["twilio_call_sid"] or event.call_id,
        "CallStatus": status or _TWILIO_STATUS.get(call["raw_status"] or "", "queued"),
        "From": call["from_number"],
        "To": call["to_number"],
        "Direction": "inbound" if call["direction"] == "inbound" else "outbound-api",
        # Twilio numbers a call's callbacks from 0.
        "SequenceNumber": event.seq - 1,
    }
    if event.type == "call.ended":
        fields["Duration"] = round(data["duration_s"])
    return fields


def webhook_body(event: CallEvent, data: dict[str, Any], *, twilio: bool) -> str:
    """`type`, `timestamp`, `call_key` and `seq` (order a call's events by them), LiveKit's
    `call_id`, and `data`."""
    body: dict[str, Any] = {
        "type": event.type,
        "timestamp": data["at"],
        "call_key": event.call.key,
        "call_id": event.call_id,
        "seq": event.seq,
        "data": data,
    }
    if twilio:
        body |= twilio_fields(event, data)
    return json.dumps(body, separators=(",", ":"))

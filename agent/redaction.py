"""Events as the call log stores them and webhooks send them: JSON-ready, phone numbers
following `SIP_AGENT_PHONE_NUMBERS`.

A number can hide anywhere: the from/to fields, the participant identity (`sip_+1555…`),
attributes in `call.updated`. Every string in the event is searched for the call's numbers.
"""

from __future__ import annotations

from typing import Any

from .events import CallEvent, event_to_dict
from .privacy import call_numbers, redact_text
from .settings import PhoneNumbers


def _replace(value: Any, numbers: dict[str, str]) -> Any:
    if isinstance(value, str):
        return redact_text(value, numbers)
    if isinstance(value, dict):
        return {k: _replace(v, numbers) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, numbers) for v in value]
    return value


def redacted_event(event: CallEvent, policy: PhoneNumbers) -> dict[str, Any]:
    """`event_to_dict(event)` with the call's numbers masked unless the policy is `full`."""
    data = event_to_dict(event)
    numbers = call_numbers(event.call, policy)
    if not numbers:
        return data
    result: dict[str, Any] = _replace(data, numbers)
    return result

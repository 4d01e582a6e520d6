"""Events as stored and sent: JSON-ready, phone numbers following `SIP_AGENT_PHONE_NUMBERS`.

A number can hide anywhere: the from/to fields, the participant identity (`sip_+1555…`),
attributes in `call.updated`. Every string in the event is searched for the call's numbers.
"""

from __future__ import annotations

from typing import Any

from ..events import CallEvent, event_to_dict
from ..privacy import mask_number
from ..settings import PhoneNumbers


def _replace(value: Any, numbers: dict[str, str]) -> Any:
    if isinstance(value, str):
        for number, masked in numbers.items():
            if number in value:
                value = value.replace(number, masked)
        return value
    if isinstance(value, dict):
        return {k: _replace(v, numbers) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, numbers) for v in value]
    return value


def redacted_event(event: CallEvent, policy: PhoneNumbers) -> dict[str, Any]:
    """`event_to_dict(event)` with the call's numbers masked unless the policy is `full`."""
    data = event_to_dict(event)
    if policy is PhoneNumbers.FULL:
        return data
    call = event.call
    numbers = {
        n: str(mask_number(n, policy))
        for n in (call.from_number, call.to_number, call.trunk_number)
        if n
    }
    # Longest first: a number that contains another is masked whole.
    ordered = dict(sorted(numbers.items(), key=lambda item: -len(item[0])))
    result: dict[str, Any] = _replace(data, ordered)
    return result

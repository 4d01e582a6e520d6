"""Phone numbers in logs follow the configured privacy setting, anywhere in a line."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

import phonenumbers

from .call import Call
from .settings import PhoneNumbers

KEPT_DIGITS = 4


def mask_number(number: str | None, policy: PhoneNumbers = PhoneNumbers.MASKED) -> str | None:
    """`+15551234567` -> `*******4567`: enough to tell calls apart, not to dial back."""
    if number is None or policy is PhoneNumbers.FULL:
        return number
    if len(number) <= KEPT_DIGITS:
        return "*" * len(number)
    return "*" * (len(number) - KEPT_DIGITS) + number[-KEPT_DIGITS:]


def call_numbers(call: Call, policy: PhoneNumbers) -> dict[str, str]:
    """The call's numbers and how they must appear; empty when numbers are shown whole.

    Longest first, so a number that contains another is masked whole."""
    if policy is PhoneNumbers.FULL:
        return {}
    numbers = {n for n in (call.from_number, call.to_number, call.trunk_number) if n}
    return {n: str(mask_number(n, policy)) for n in sorted(numbers, key=len, reverse=True)}


def redact_text(text: str, numbers: dict[str, str]) -> str:
    """A number can hide in any string, e.g. an identity `sip_+15551230001`."""
    for number, masked in numbers.items():
        if number in text:
            text = text.replace(number, masked)
    return text


_MAYBE_INTERNATIONAL = re.compile(r"\+\s*\(?\d")


def mask_numbers_in(text: str) -> str:
    """Every number in international form (`+1 510 555 0123`, `sip_+15105550123`, a room
    `call-_+15105550123_x`) masked as `mask_number` masks it. Found by phonenumbers (Google's
    libphonenumber) in any format; ids such as `AC0123…` or times are left alone."""
    if _MAYBE_INTERNATIONAL.search(text) is None:  # the common case, without the matcher
        return text
    parts: list[str] = []
    last = 0
    for match in phonenumbers.PhoneNumberMatcher(
        text, None, leniency=phonenumbers.Leniency.POSSIBLE
    ):
        parts += [text[last : match.start], str(mask_number(match.raw_string))]
        last = match.end
    return "".join(parts) + text[last:] if parts else text


def masked_values(value: Any) -> Any:
    """`value` with the numbers in its strings masked, through dicts, lists and tuples."""
    if isinstance(value, str):
        return mask_numbers_in(value)
    if isinstance(value, Mapping):
        return {k: masked_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(masked_values(v) for v in value)
    return value


def mask_event_dict(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> Mapping[str, Any]:
    """A structlog processor: numbers masked in every value of the line."""
    return {key: masked_values(value) for key, value in event_dict.items()}


_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class MaskNumbers(logging.Filter):
    """For the standard library's records (livekit-agents' own lines name rooms, and rooms
    carry the caller's number): the message and every extra field, masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it itself, as it would anyway
            return True
        record.msg = mask_numbers_in(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _RECORD_FIELDS:
                setattr(record, key, masked_values(value))
        return True

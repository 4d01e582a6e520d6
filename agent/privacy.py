"""Phone numbers in logs follow the configured privacy setting."""

from __future__ import annotations

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

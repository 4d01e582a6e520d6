"""Phone numbers in logs follow the configured privacy setting."""

from __future__ import annotations

from .settings import PhoneNumbers

KEPT_DIGITS = 4


def mask_number(number: str | None, policy: PhoneNumbers = PhoneNumbers.MASKED) -> str | None:
    """`+15551234567` -> `*******4567`: enough to tell calls apart, not to dial back."""
    if number is None or policy is PhoneNumbers.FULL:
        return number
    if len(number) <= KEPT_DIGITS:
        return "*" * len(number)
    return "*" * (len(number) - KEPT_DIGITS) + number[-KEPT_DIGITS:]

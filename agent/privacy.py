"""Phone numbers in logs follow the configured privacy setting, anywhere in a line."""

from __future__ import annotations

import re

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
# Numbers written without `+` (`15551230001`, `sip:5551230001@`, `(555) 123-0001`): runs of
# 10 to 15 digits, or the North American grouping, standing apart from letters and digits
# (an `_` or `-` apart counts: rooms are `call-_15551230001_x`). Ids mixing letters and
# digits, times and dates are left alone; a bare 10-digit Unix time is masked too, a price
# worth paying for never printing a number.
_NATIONAL = re.compile(
    r"(?<![A-Za-z0-9.])(?:\d{10,15}|(?:1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4})(?![A-Za-z0-9])"
)


def mask_numbers_in(text: str) -> str:
    """Every phone number in `text` masked as `mask_number` masks it: in international form
    (`+1 510 555 0123`, `sip_+15105550123`, a room `call-_+15105550123_x`), found by
    phonenumbers (Google's libphonenumber) in any format, and written without `+`."""
    if _MAYBE_INTERNATIONAL.search(text) is not None:
        text = _mask_international(text)
    if _NATIONAL.search(text) is None:  # the common case, without a second pass
        return text
    return _NATIONAL.sub(lambda m: str(mask_number(m.group())), text)


def _mask_international(text: str) -> str:
    parts: list[str] = []
    last = 0
    for match in phonenumbers.PhoneNumberMatcher(
        text, None, leniency=phonenumbers.Leniency.POSSIBLE
    ):
        parts += [text[last : match.start], str(mask_number(match.raw_string))]
        last = match.end
    return "".join(parts) + text[last:] if parts else text

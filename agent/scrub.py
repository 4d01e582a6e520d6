"""What no log line may carry, taken out of every line the worker prints (its own and its
libraries'): credentials always, raw control characters always, phone numbers as the privacy
setting says. One function per concern; `scrubber` puts them together once."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from .privacy import mask_numbers_in
from .settings import PhoneNumbers

Scrub = Callable[[str], str]
HIDDEN = "***"

# `scheme://user:password@host`: everything between `//` and `@` goes, user names too
# (a token is often passed as the user).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
# Query values and `name=value` pairs whose name says secret: `?token=…`, `&api_key=…`.
_SECRET_PAIR = re.compile(
    r"(?P<name>\b[\w-]*(?:token|secret|passw(?:or)?d|pwd|api[_-]?key|apikey|signature|"
    r"sig|auth|credential|session)[\w-]*)=(?P<value>[^&\s\"',;]+)",
    re.IGNORECASE,
)
# C0 and C1 controls, DEL: an attribute can carry ESC sequences that repaint a terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def hide_credentials(text: str) -> str:
    """`http://user:pass@host/hook?token=abc` -> `http://***@host/hook?token=***`."""
    if "@" not in text and "=" not in text:  # the common case, without the patterns
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{HIDDEN}@", text)
    return _SECRET_PAIR.sub(lambda m: f"{m['name']}={HIDDEN}", text)


def escape_controls(text: str) -> str:
    """Control characters shown as `\\x1b`, never written raw to the terminal or a file."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def scrubber(numbers: PhoneNumbers) -> Scrub:
    """The one text filter for log lines under this privacy setting."""
    if numbers is PhoneNumbers.FULL:
        return lambda text: escape_controls(hide_credentials(text))
    return lambda text: escape_controls(hide_credentials(mask_numbers_in(text)))


def scrubbed(value: Any, scrub: Scrub) -> Any:
    """`value` with its strings scrubbed, through dicts, lists and tuples."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: scrubbed(v, scrub) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrubbed(v, scrub) for v in value)
    return value


def scrub_processor(scrub: Scrub) -> Callable[..., Mapping[str, Any]]:
    """A structlog processor: every value of the line scrubbed (keys are ours)."""

    def processor(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> Mapping[str, Any]:
        return {key: scrubbed(value, scrub) for key, value in event_dict.items()}

    return processor


_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class ScrubRecords(logging.Filter):
    """For the standard library's records (livekit-agents' own lines name rooms, and rooms
    carry the caller's number; an aiohttp error names the URL): the message and every extra
    field, scrubbed."""

    def __init__(self, scrub: Scrub) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it itself, as it would anyway
            return True
        record.msg = self._scrub(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _RECORD_FIELDS:
                setattr(record, key, scrubbed(value, self._scrub))
        return True

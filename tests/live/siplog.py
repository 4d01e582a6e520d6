"""What the phone saw: sipp's message log (`-trace_msg`), parsed into SIP messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from .sipp import SippResult

_SEPARATOR = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n", re.MULTILINE)


@dataclass(frozen=True)
class SipMessage:
    """One SIP message sipp sent or received, as its message log has it."""

    at: datetime
    received: bool
    text: str

    @property
    def start_line(self) -> str:
        return self.text.split("\n", 1)[0]

    @property
    def method(self) -> str:
        """The request's method, or `SIP/2.0` for a response."""
        return self.start_line.split(" ", 1)[0]

    @property
    def status(self) -> int | None:
        """A response's status code."""
        parts = self.start_line.split(" ")
        return int(parts[1]) if parts[0] == "SIP/2.0" else None

    def header(self, name: str) -> str | None:
        head = self.text.split("\n\n", 1)[0]
        for line in head.split("\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    @property
    def cseq_method(self) -> str:
        return (self.header("CSeq") or " ").split(" ")[-1]


def sip_messages(result: SippResult) -> list[SipMessage]:
    """Every SIP message of the call, in order."""
    (log,) = result.workdir.glob("*_messages.log")
    parts = _SEPARATOR.split(log.read_text(errors="replace"))[1:]
    messages = []
    for stamp, chunk in zip(parts[::2], parts[1::2], strict=True):
        kind, _, text = chunk.partition("\n\n")
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").astimezone()
        body = text.replace("\r\n", "\n").strip("\n")
        messages.append(SipMessage(at, "received" in kind, body))
    return messages


def received(messages: list[SipMessage], method: str) -> list[SipMessage]:
    return [m for m in messages if m.received and m.method == method]


def response_to(messages: list[SipMessage], method: str, *, by_phone: bool) -> SipMessage:
    """The final response to `method` (sent by the phone, or received from LiveKit)."""
    return next(
        m
        for m in messages
        if m.received is not by_phone
        and m.status is not None
        and m.status >= 200
        and m.cseq_method == method
    )

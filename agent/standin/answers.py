"""LiveKit's API answers, as values: what a request got (a success, a Twirp error, a delay),
and the requests as LiveKit received them. The Twirp stand-in (`twirp`) plays them; the
simulator's scenarios script them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TwirpRequest:
    """One request as received: `method` is `Service/Method` without the package."""

    method: str
    body: dict[str, Any]
    """The request as protobuf JSON (field names as in the .proto, defaults left out)."""
    claims: Mapping[str, Any]
    content_type: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A success; `body` (protobuf JSON) fills the response message."""

    body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TwirpError:
    """A Twirp error as LiveKit sends it: HTTP status plus `{"code", "msg", "meta"}`."""

    status: int
    code: str
    msg: str
    meta: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delay:
    """Hold the answer for `seconds` (a client timeout shorter than that fires first)."""

    seconds: float
    then: Reply | TwirpError = field(default_factory=Reply)


Answer = Reply | TwirpError | Delay

_SIP_REASONS = {
    404: "Not Found",
    408: "Request Timeout",
    480: "Temporarily Unavailable",
    486: "Busy Here",
    487: "Request Terminated",
    503: "Service Unavailable",
    600: "Busy Everywhere",
    603: "Decline",
}
# The Twirp code (and its HTTP status) LiveKit's SIP service pairs with a SIP failure class.
_SIP_TWIRP = {4: ("not_found", 404), 5: ("unavailable", 503), 6: ("permission_denied", 403)}


def sip_error(sip_status_code: int, reason: str | None = None, **meta: str) -> TwirpError:
    """A dial or transfer that failed with a SIP final response, e.g. 486 Busy Here."""
    phrase = reason or _SIP_REASONS.get(sip_status_code, "")
    if sip_status_code in (486, 600):
        code, status = "resource_exhausted", 429
    else:
        code, status = _SIP_TWIRP.get(sip_status_code // 100, ("unknown", 500))
    return TwirpError(
        status=status,
        code=code,
        msg=f"sip status: {sip_status_code}: {phrase}",
        meta={"sip_status_code": str(sip_status_code), "sip_status": phrase, **meta},
    )


def server_error(status: int = 503, msg: str = "no response from servers") -> TwirpError:
    """LiveKit's answer when no SIP service (or another backend) responds."""
    return TwirpError(status=status, code="unavailable" if status == 503 else "internal", msg=msg)

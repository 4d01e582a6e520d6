"""What went wrong with an action, in the terms a telephony engineer reads: the SIP status
where there is one, and for a failed dial the disconnect reason LiveKit itself would give."""

from __future__ import annotations

from dataclasses import dataclass

from livekit import api

from ..outcome import EndReason

# SIP final responses by what they mean for an outbound call (LiveKit's own mapping:
# busy/declined leave with USER_REJECTED, no answer/unreachable with USER_UNAVAILABLE).
_REJECTED = frozenset({486, 600, 603})
_UNAVAILABLE = frozenset({404, 408, 480, 487})


@dataclass(frozen=True, slots=True)
class Failure:
    error: str
    """One line: the SIP status and reason, the Twirp error, or the transport problem."""
    sip_status_code: int | None = None
    sip_status: str | None = None
    timed_out: bool = False
    http_status: int | None = None
    """LiveKit's HTTP status for a request it answered with an error."""

    @classmethod
    def of(cls, exc: BaseException, *, timeout_s: float) -> Failure:
        if isinstance(exc, TimeoutError):
            return cls(error=f"no answer within {timeout_s:g}s", timed_out=True)
        if isinstance(exc, api.SipCallError):
            return cls(
                error=str(exc), sip_status_code=exc.sip_status_code, sip_status=exc.sip_status
            )
        if isinstance(exc, api.ServerError):
            return cls(
                error=f"LiveKit answered {exc.status} {exc.code}: {exc.message}",
                http_status=exc.status,
            )
        return cls(error=f"{type(exc).__name__}: {exc}")

    @property
    def reason(self) -> str:
        """The SIP reason phrase when there is one, else the error."""
        return self.sip_status or self.error

    def dial_end_reason(self) -> str:
        """The disconnect reason a dial that failed this way ends its call with."""
        code = self.sip_status_code
        if code in _REJECTED:
            return EndReason.USER_REJECTED
        # 408 without a SIP status: LiveKit gave up ringing (the request's ringing timeout)
        # or got no answer to its INVITE at all (seen on the real SIP service).
        if self.timed_out or code in _UNAVAILABLE or self.http_status == 408:
            return EndReason.USER_UNAVAILABLE
        return EndReason.UNKNOWN_REASON

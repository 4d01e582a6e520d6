"""How a call ended: the one place that maps LiveKit's disconnect reasons to outcomes.

The table follows what LiveKit's SIP service really reports (see the README, "Outcomes"):

| answered? | disconnect reason                               | outcome   | ended_by        |
|-----------|-------------------------------------------------|-----------|-----------------|
| any       | CLIENT_INITIATED after our transfer or EndCall  | completed*| agent           |
| yes       | CLIENT_INITIATED                                | completed | caller / callee |
| yes       | PARTICIPANT_REMOVED, ROOM_DELETED, ROOM_CLOSED  | completed | agent           |
| yes       | anything else                                   | completed | system          |
| no        | USER_REJECTED                                   | busy      | callee          |
| no        | USER_UNAVAILABLE                                | no-answer | callee          |
| no, in    | CLIENT_INITIATED without `hangup` written       | no-answer | system          |
| no        | CLIENT_INITIATED                                | canceled  | caller / callee |
| no        | PARTICIPANT_REMOVED, ROOM_DELETED, ROOM_CLOSED  | canceled  | agent           |
| no        | anything else                                   | failed    | system          |

(*) canceled when the call was never answered.

Two rows come from LiveKit's real SIP service (docs/REAL-LIVEKIT.md, proved by the live tests):
after a transfer, and after a hangup through the SIP service's `lk.sip.EndCall` (which puts
headers on the BYE), LiveKit itself sends the BYE, writes `hangup` and the participant leaves
CLIENT_INITIATED, exactly as if the caller had hung up; and an inbound call nobody answers is
rejected by LiveKit when its ringing timeout runs out, leaving CLIENT_INITIATED with no
`hangup` written, while a caller's CANCEL always writes `hangup` first.
"""

from __future__ import annotations

import enum

from .call import Direction


class Outcome(enum.StrEnum):
    """Twilio's terminal CallStatus words, which telephony people already read fluently."""

    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"
    FAILED = "failed"


class EndedBy(enum.StrEnum):
    CALLER = "caller"
    CALLEE = "callee"
    AGENT = "agent"
    SYSTEM = "system"


class EndReason(enum.StrEnum):
    """Disconnect reasons by name, plus the two ends the worker itself observes."""

    CLIENT_INITIATED = "CLIENT_INITIATED"
    USER_REJECTED = "USER_REJECTED"
    USER_UNAVAILABLE = "USER_UNAVAILABLE"
    PARTICIPANT_REMOVED = "PARTICIPANT_REMOVED"
    ROOM_DELETED = "ROOM_DELETED"
    ROOM_CLOSED = "ROOM_CLOSED"
    UNKNOWN_REASON = "UNKNOWN_REASON"
    JOB_ENDED = "JOB_ENDED"
    """The job ended (worker shutdown, connection lost) while the call was still up."""
    WORKER_LOST = "WORKER_LOST"
    """The worker holding the call stopped beating (killed, its host lost) and the call's
    participant was gone when a live worker took the call over (agent/fleet)."""


_BY_AGENT = frozenset({"PARTICIPANT_REMOVED", "ROOM_DELETED", "ROOM_CLOSED"})


def remote_party(direction: Direction) -> EndedBy:
    """The phone party: the caller of an inbound call, the callee of an outbound one."""
    return EndedBy.CALLER if direction is Direction.INBOUND else EndedBy.CALLEE


def classify(
    *,
    answered: bool,
    direction: Direction,
    reason: str,
    hangup_written: bool = True,
    ended_by_agent: bool = False,
) -> tuple[Outcome, EndedBy]:
    """Outcome and who ended the call, from the table above. Unknown reasons are `system`.

    `hangup_written`: `sip.callStatus` became `hangup` before the end; `ended_by_agent`:
    before the end, a transfer this worker asked for was accepted, or it asked the SIP service
    to hang up (EndCall).
    """
    if reason == EndReason.CLIENT_INITIATED:
        outcome = Outcome.COMPLETED if answered else Outcome.CANCELED
        if ended_by_agent:
            return outcome, EndedBy.AGENT
        if not answered and direction is Direction.INBOUND and not hangup_written:
            return Outcome.NO_ANSWER, EndedBy.SYSTEM
        return outcome, remote_party(direction)
    if reason in _BY_AGENT:
        return (Outcome.COMPLETED if answered else Outcome.CANCELED), EndedBy.AGENT
    if answered:
        return Outcome.COMPLETED, EndedBy.SYSTEM
    if reason == EndReason.USER_REJECTED:
        return Outcome.BUSY, EndedBy.CALLEE
    if reason == EndReason.USER_UNAVAILABLE:
        return Outcome.NO_ANSWER, EndedBy.CALLEE
    return Outcome.FAILED, EndedBy.SYSTEM

"""How a call ended: the one place that maps LiveKit's disconnect reasons to outcomes.

The table follows what LiveKit's SIP service really reports (see the README, "Outcomes"):

| answered? | disconnect reason                               | outcome   | ended_by        |
|-----------|-------------------------------------------------|-----------|-----------------|
| yes       | CLIENT_INITIATED                                | completed | caller / callee |
| yes       | PARTICIPANT_REMOVED, ROOM_DELETED, ROOM_CLOSED  | completed | agent           |
| yes       | anything else                                   | completed | system          |
| no        | USER_REJECTED                                   | busy      | callee          |
| no        | USER_UNAVAILABLE                                | no-answer | callee          |
| no        | CLIENT_INITIATED                                | canceled  | caller / callee |
| no        | PARTICIPANT_REMOVED, ROOM_DELETED, ROOM_CLOSED  | canceled  | agent           |
| no        | anything else                                   | failed    | system          |
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


_BY_AGENT = frozenset({"PARTICIPANT_REMOVED", "ROOM_DELETED", "ROOM_CLOSED"})


def remote_party(direction: Direction) -> EndedBy:
    """The phone party: the caller of an inbound call, the callee of an outbound one."""
    return EndedBy.CALLER if direction is Direction.INBOUND else EndedBy.CALLEE


def classify(*, answered: bool, direction: Direction, reason: str) -> tuple[Outcome, EndedBy]:
    """Outcome and who ended the call, from the table above. Unknown reasons are `system`."""
    if reason == EndReason.CLIENT_INITIATED:
        outcome = Outcome.COMPLETED if answered else Outcome.CANCELED
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

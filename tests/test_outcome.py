"""The outcome table of DOMAIN.md, row by row."""

import pytest

from agent.call import Direction
from agent.outcome import EndedBy, Outcome, classify

IN, OUT = Direction.INBOUND, Direction.OUTBOUND


@pytest.mark.parametrize(
    ("answered", "direction", "reason", "outcome", "ended_by"),
    [
        (True, IN, "CLIENT_INITIATED", Outcome.COMPLETED, EndedBy.CALLER),
        (True, OUT, "CLIENT_INITIATED", Outcome.COMPLETED, EndedBy.CALLEE),
        (True, IN, "PARTICIPANT_REMOVED", Outcome.COMPLETED, EndedBy.AGENT),
        (True, OUT, "ROOM_DELETED", Outcome.COMPLETED, EndedBy.AGENT),
        (True, IN, "ROOM_CLOSED", Outcome.COMPLETED, EndedBy.AGENT),
        (True, IN, "SERVER_SHUTDOWN", Outcome.COMPLETED, EndedBy.SYSTEM),
        (True, IN, "MEDIA_FAILURE", Outcome.COMPLETED, EndedBy.SYSTEM),
        (True, IN, "SIP_TRUNK_FAILURE", Outcome.COMPLETED, EndedBy.SYSTEM),
        (True, IN, "JOB_ENDED", Outcome.COMPLETED, EndedBy.SYSTEM),
        (False, OUT, "USER_REJECTED", Outcome.BUSY, EndedBy.CALLEE),
        (False, OUT, "USER_UNAVAILABLE", Outcome.NO_ANSWER, EndedBy.CALLEE),
        (False, IN, "CLIENT_INITIATED", Outcome.CANCELED, EndedBy.CALLER),
        (False, OUT, "CLIENT_INITIATED", Outcome.CANCELED, EndedBy.CALLEE),
        (False, IN, "PARTICIPANT_REMOVED", Outcome.CANCELED, EndedBy.AGENT),
        (False, OUT, "ROOM_DELETED", Outcome.CANCELED, EndedBy.AGENT),
        (False, IN, "SIP_TRUNK_FAILURE", Outcome.FAILED, EndedBy.SYSTEM),
        (False, IN, "UNKNOWN_REASON", Outcome.FAILED, EndedBy.SYSTEM),
        (False, IN, "JOB_ENDED", Outcome.FAILED, EndedBy.SYSTEM),
        (False, IN, "SOMETHING_NEW", Outcome.FAILED, EndedBy.SYSTEM),
    ],
)
def test_table(answered, direction, reason, outcome, ended_by) -> None:
    assert classify(answered=answered, direction=direction, reason=reason) == (outcome, ended_by)

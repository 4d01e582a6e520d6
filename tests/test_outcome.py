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


def test_inbound_ringing_timeout_is_no_answer() -> None:
    """LiveKit rejecting an unanswered inbound call leaves CLIENT_INITIATED with no `hangup`:
    nobody answered, the caller did not give up (a CANCEL writes `hangup` first)."""
    assert classify(
        answered=False, direction=IN, reason="CLIENT_INITIATED", hangup_written=False
    ) == (Outcome.NO_ANSWER, EndedBy.SYSTEM)
    assert classify(
        answered=False, direction=IN, reason="CLIENT_INITIATED", hangup_written=True
    ) == (Outcome.CANCELED, EndedBy.CALLER)
    # Outbound calls have no such timeout on the callee's side: still the callee's cancel.
    assert classify(
        answered=False, direction=OUT, reason="CLIENT_INITIATED", hangup_written=False
    ) == (Outcome.CANCELED, EndedBy.CALLEE)


@pytest.mark.parametrize(
    ("answered", "outcome"), [(True, Outcome.COMPLETED), (False, Outcome.CANCELED)]
)
def test_end_after_our_transfer_is_the_agents(answered: bool, outcome: Outcome) -> None:
    """After a transfer we asked for, LiveKit's own BYE (CLIENT_INITIATED) is the agent's."""
    assert classify(
        answered=answered, direction=IN, reason="CLIENT_INITIATED", ended_by_agent=True
    ) == (outcome, EndedBy.AGENT)
    # Any other end after a transfer keeps its own meaning.
    assert classify(answered=True, direction=IN, reason="SERVER_SHUTDOWN", ended_by_agent=True) == (
        Outcome.COMPLETED,
        EndedBy.SYSTEM,
    )

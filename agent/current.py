"""The job an event belongs to: the one way back from a handler to its job's calls.

The entrypoint enters the job's calls before it connects, so every task that delivers the
room's events (and every handler and action they run) sees them. Outside a job there are
none, and asking says so in a sentence, as livekit-agents' `get_job_context()` does.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .room_calls import RoomCalls

_calls: contextvars.ContextVar[RoomCalls] = contextvars.ContextVar("sip_agent_calls")

OUTSIDE_A_JOB = (
    "no sip-agent job here: call control and the `log` action work in handlers and rules"
    " running inside a job (on an event the worker delivered); in your own tests, run the"
    " worker's entrypoint on a room, e.g. with agent.testing.run_job or the sip_simulator"
    " fixture"
)


def enter(calls: RoomCalls) -> None:
    """Make `calls` the current job's, for this task and the tasks it starts from now on."""
    _calls.set(calls)


def current_calls() -> RoomCalls:
    """The calls of the job this code runs in; RuntimeError outside a job."""
    try:
        return _calls.get()
    except LookupError:
        raise RuntimeError(OUTSIDE_A_JOB) from None

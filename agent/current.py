"""The job an event belongs to: the one way back from a handler to its job.

The entrypoint enters the job before it connects, so every task that delivers the room's
events (and every handler and action they run) sees it. Outside a job there are
none, and asking says so in a sentence, as livekit-agents' `get_job_context()` does.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .job import CallJob

_job: contextvars.ContextVar[CallJob] = contextvars.ContextVar("sip_agent_job")

OUTSIDE_A_JOB = (
    "no sip-agent job here: call control and the `log` action work in handlers and rules"
    " running inside a job (on an event the worker delivered); in your own tests, run the"
    " worker's entrypoint on a room, e.g. with agent.standin.run_job or the sip_simulator"
    " fixture"
)


def enter(job: CallJob) -> None:
    """Make `job` the current one, for this task and the tasks it starts from now on."""
    _job.set(job)


def current_job() -> CallJob:
    """The job this code runs in; RuntimeError, saying what to do, outside a job."""
    try:
        return _job.get()
    except LookupError:
        raise RuntimeError(OUTSIDE_A_JOB) from None

"""Admission by calls carried: a burst is never refused, and a full worker refuses the rest."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator

import pytest
from live_worker import AGENT, API_KEY, API_SECRET, calls_server, running
from livekit.agents import AgentServer

from agent.capacity import threshold
from agent.standin import AgentEndpoint, JobRejectedError
from agent.testing.polling import eventually


@pytest.fixture
async def endpoint() -> AsyncIterator[AgentEndpoint]:
    async with AgentEndpoint(api_key=API_KEY, api_secret=API_SECRET) as server:
        yield server


async def dispatch_burst(endpoint: AgentEndpoint, n: int) -> tuple[int, int]:
    results = await asyncio.gather(
        *(endpoint.dispatch(AGENT, f"call-{i}") for i in range(n)), return_exceptions=True
    )
    refused = sum(isinstance(r, JobRejectedError) for r in results)
    unexpected = [
        r for r in results if isinstance(r, BaseException) and r.__class__ is not JobRejectedError
    ]
    assert not unexpected
    return n - refused, refused


def test_the_private_sdk_names_relied_on_are_still_there() -> None:
    """AgentServer._get_effective_load exists and counts `_reserved_slots`."""
    assert "_reserved_slots" in inspect.getsource(AgentServer._get_effective_load)
    assert "_reserved_slots" in inspect.getsource(AgentServer._answer_availability)
    assert "_get_effective_load" in inspect.getsource(AgentServer._is_available)


async def test_an_idle_worker_accepts_a_simultaneous_burst(endpoint: AgentEndpoint) -> None:
    """Ten requests at once on a worker with one idle executor are all accepted."""
    async with running(calls_server(endpoint), endpoint):
        assert await dispatch_burst(endpoint, 10) == (10, 0)


async def test_a_full_worker_refuses_beyond_max_calls(endpoint: AgentEndpoint) -> None:
    """With SIP_AGENT_MAX_CALLS=3, three of five simultaneous calls are taken."""
    server = calls_server(endpoint, max_calls=3)
    async with running(server, endpoint):
        assert await dispatch_burst(endpoint, 5) == (3, 2)
        await eventually(lambda: server.calls_load() >= 1.0, 5, "a full load")


async def test_a_second_job_for_a_room_it_serves_is_refused(endpoint: AgentEndpoint) -> None:
    """A restarted LiveKit server dispatches the room again while this worker's job for it
    resumes: the second job is refused (it would report every call twice); other rooms are
    still taken."""
    server = calls_server(endpoint)
    async with running(server, endpoint):
        await endpoint.dispatch(AGENT, "call-a")
        await eventually(
            lambda: any(j.job.room.name == "call-a" for j in server.active_jobs),
            10,
            "the job for call-a running",
        )
        with pytest.raises(JobRejectedError):
            await endpoint.dispatch(AGENT, "call-a")
        await endpoint.dispatch(AGENT, "call-b")


def test_the_threshold_is_reached_at_max_calls_exactly() -> None:
    """max_calls - 1 calls are under the threshold, max_calls calls are not."""
    for max_calls in (1, 2, 200):
        assert (max_calls - 1) / max_calls < threshold(max_calls) < 1.0

"""Admission by calls carried: a burst is never refused, a full worker refuses the rest, and
LiveKit, which sends no job to a worker at its target load, sends every call up to
SIP_AGENT_MAX_CALLS."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator

import pytest
from live_worker import AGENT, API_KEY, API_SECRET, calls_server, running
from livekit.agents import AgentServer
from livekit.agents import worker as sdk_worker
from livekit.protocol import agent as proto

from agent.capacity import SERVER_TARGET_LOAD, CallsServer, threshold
from agent.standin import AgentEndpoint, JobRejectedError, NoWorkerError
from agent.testing.polling import eventually

REFUSED = (JobRejectedError, NoWorkerError)


@pytest.fixture
async def endpoint() -> AsyncIterator[AgentEndpoint]:
    async with AgentEndpoint(api_key=API_KEY, api_secret=API_SECRET) as server:
        yield server


async def dispatch_burst(endpoint: AgentEndpoint, n: int) -> tuple[int, int]:
    results = await asyncio.gather(
        *(endpoint.dispatch(AGENT, f"call-{i}") for i in range(n)), return_exceptions=True
    )
    refused = sum(isinstance(r, REFUSED) for r in results)
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, REFUSED)]
    assert not unexpected
    return n - refused, refused


def test_the_private_sdk_names_relied_on_are_still_there() -> None:
    """AgentServer._get_effective_load exists and counts `_reserved_slots`; the status message
    carries `_worker_load`."""
    assert "_reserved_slots" in inspect.getsource(AgentServer._get_effective_load)
    assert "_reserved_slots" in inspect.getsource(AgentServer._answer_availability)
    assert "_get_effective_load" in inspect.getsource(AgentServer._is_available)
    assert "load=self._worker_load" in inspect.getsource(AgentServer._update_worker_status)


async def test_an_idle_worker_accepts_a_simultaneous_burst(endpoint: AgentEndpoint) -> None:
    """Ten requests at once on a worker with one idle executor are all accepted."""
    async with running(calls_server(endpoint), endpoint):
        assert await dispatch_burst(endpoint, 10) == (10, 0)


async def test_a_full_worker_refuses_beyond_max_calls(endpoint: AgentEndpoint) -> None:
    """With SIP_AGENT_MAX_CALLS=3, three of five simultaneous calls are taken."""
    server = calls_server(endpoint, max_calls=3)
    async with running(server, endpoint):
        assert await dispatch_burst(endpoint, 5) == (3, 2)
        await eventually(lambda: server.calls_load() >= threshold(3), 5, "a full load")


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
    """max_calls - 1 calls are under the threshold, max_calls calls are not, and the threshold
    is under the LiveKit server's target load."""
    for target in (SERVER_TARGET_LOAD, 1.0):
        for max_calls in (1, 2, 200):
            full = threshold(max_calls, target)
            assert target * (max_calls - 1) / max_calls < full < target


def load_reported(endpoint: AgentEndpoint, server: CallsServer, calls: int) -> bool:
    """Whether the stand-in's last status from the worker carries the load of `calls` calls."""
    status = endpoint.worker_status(server.id)
    want = SERVER_TARGET_LOAD * calls / server.max_calls
    return status is not None and abs(status.load - want) < 1e-6


async def test_livekit_sends_every_call_up_to_max_calls(
    endpoint: AgentEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """livekit-server sends no job to a worker whose load is at its target load (0.7): with
    SIP_AGENT_MAX_CALLS=4 the fourth call still comes (a load of calls / max_calls, 0.75 at
    three calls, stopped it), and the fifth finds the worker full. The load goes to LiveKit as
    each call starts: the SDK's own 2.5 s status report is held off here, so only that does."""
    monkeypatch.setattr(sdk_worker, "UPDATE_STATUS_INTERVAL", 3600.0)
    server = calls_server(endpoint, max_calls=4)
    async with running(server, endpoint):
        for calls in range(1, 5):
            await endpoint.dispatch(AGENT, f"call-{calls}")
            await endpoint.until(
                lambda n=calls: load_reported(endpoint, server, n),  # type: ignore[misc]
                10,
                f"the load of {calls} calls reported",
            )
        status = endpoint.worker_status(server.id)
        assert status is not None and status.status == proto.WorkerStatus.WS_FULL
        with pytest.raises(NoWorkerError, match="no servers available"):
            await endpoint.dispatch(AGENT, "call-5")

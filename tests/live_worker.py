"""A real livekit-agents worker running in this process against the `/agent` stand-in."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
from livekit.agents import AgentServer, JobContext, JobExecutorType

from agent import health
from agent.capacity import CallsServer
from agent.standin import AgentEndpoint
from agent.testing.polling import eventually

API_KEY = "devkey"
API_SECRET = "test-secret-0123456789abcdef0123456789"
AGENT = "live-worker-test"
# AgentServer.run() exports these to the environment: they are put back afterwards.
EXPORTED = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")


async def stay(ctx: JobContext) -> None:
    """A job that holds its slot until the worker closes (no room is ever joined)."""


def calls_server(
    endpoint: AgentEndpoint,
    max_calls: int = 200,
    *,
    jobs_on_loop: bool = False,
    entrypoint: Callable[[JobContext], Awaitable[None]] = stay,
) -> CallsServer:
    server = CallsServer(
        max_calls=max_calls,
        jobs_on_loop=jobs_on_loop,
        job_executor_type=JobExecutorType.THREAD,
        num_idle_processes=1,
        host="127.0.0.1",
        port=0,
        ws_url=endpoint.url,
        api_key=API_KEY,
        api_secret=API_SECRET,
    )
    server.rtc_session(entrypoint, agent_name=AGENT, on_request=server.accept_unless_served)
    return server


@asynccontextmanager
async def running(server: AgentServer, endpoint: AgentEndpoint) -> AsyncIterator[AgentServer]:
    """Run `server` in production mode until the block ends; it is registered on entry."""
    saved = {name: os.environ.get(name) for name in EXPORTED}
    task = asyncio.create_task(server.run(devmode=False))
    try:
        await endpoint.wait_for_worker(AGENT)
        yield server
    finally:
        await server.aclose()
        await task
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@asynccontextmanager
async def health_endpoint(checks: health.Health) -> AsyncIterator[str]:
    """A running worker whose health endpoint serves `checks`; yields its base URL."""
    async with AgentEndpoint(api_key=API_KEY, api_secret=API_SECRET) as endpoint:
        server = calls_server(endpoint)
        front = health.serve(server, checks, "127.0.0.1", 0)
        async with running(server, endpoint):
            await eventually(lambda: front.port, 5, "the health endpoint's port")
            yield f"http://127.0.0.1:{front.port}"
        await front.aclose()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()

"""The `/agent` stand-in must satisfy the real livekit-agents worker, not just our own client.

Most tests start the unmodified worker (real CLI `start`, thread executor) in a subprocess
against the stand-in; a few drive the endpoint in-process for the cheap protocol edges.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp
import pytest
from livekit import api
from livekit.agents import __version__ as agents_version
from livekit.protocol import agent

from agent.standin import AgentEndpoint, JobRejectedError, NoWorkerError
from agent.testing.polling import eventually, stop_process

API_KEY = "devkey"
# >= 32 bytes: pyjwt warns about shorter HMAC keys and warnings are errors here
API_SECRET = "test-secret-0123456789abcdef0123456789"
AGENT_NAME = "sip-agent-test"

# The entrypoint never touches a room (no media server exists here): it records the job and
# ends it with ctx.shutdown(), or, for metadata "stay", returns and leaves the job running
# until the server terminates it.
WORKER_SCRIPT = """
import math
import os

from livekit.agents import AgentServer, JobContext, JobExecutorType, cli

server = AgentServer(
    job_executor_type=JobExecutorType.THREAD,
    host="127.0.0.1",
    port=0,  # free port for the worker's health server
    load_threshold=math.inf,  # production default 0.7 of machine CPU would make tests flaky
    num_idle_processes=1,
    drain_timeout=2,
)


@server.rtc_session(agent_name=os.environ["TEST_AGENT_NAME"])
async def entrypoint(ctx: JobContext) -> None:
    with open(os.environ["TEST_MARKER_FILE"], "a") as f:
        f.write(f"job={ctx.job.id} room={ctx.job.room.name}\\n")
    if ctx.job.metadata != "stay":
        ctx.shutdown()


if __name__ == "__main__":
    cli.run_app(server)
"""


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log: IO[bytes]
    log_path: Path
    marker_path: Path
    started_at: float

    def markers(self) -> list[str]:
        if not self.marker_path.exists():
            return []
        return self.marker_path.read_text().splitlines()

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")


SpawnWorker = Callable[..., WorkerProcess]


@pytest.fixture
async def endpoint() -> AsyncIterator[AgentEndpoint]:
    async with AgentEndpoint(api_key=API_KEY, api_secret=API_SECRET) as ep:
        yield ep


@pytest.fixture
async def spawn_worker(
    endpoint: AgentEndpoint, tmp_path: Path
) -> AsyncIterator[Callable[..., WorkerProcess]]:
    script = tmp_path / "worker_script.py"
    script.write_text(WORKER_SCRIPT)
    workers: list[WorkerProcess] = []

    def spawn(*, api_secret: str = API_SECRET) -> WorkerProcess:
        n = len(workers)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
        env.update(
            LIVEKIT_URL=endpoint.url,
            LIVEKIT_API_KEY=API_KEY,
            LIVEKIT_API_SECRET=api_secret,
            TEST_AGENT_NAME=AGENT_NAME,
            TEST_MARKER_FILE=str(tmp_path / f"marker-{n}.txt"),
        )
        log_path = tmp_path / f"worker-{n}.log"
        log = log_path.open("wb")
        proc = subprocess.Popen(
            [sys.executable, str(script), "start"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        worker = WorkerProcess(proc, log, log_path, tmp_path / f"marker-{n}.txt", time.monotonic())
        workers.append(worker)
        return worker

    yield spawn
    for worker in workers:
        await stop_process(worker.proc, timeout=5)
        worker.log.close()


def _kinds(endpoint: AgentEndpoint) -> list[str]:
    return [str(m.WhichOneof("message")) for m in endpoint.messages]


# -- real worker ---------------------------------------------------------------------------


async def test_worker_registers_and_runs_dispatched_job(
    endpoint: AgentEndpoint, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker()
    registered = await endpoint.wait_for_worker(AGENT_NAME, timeout=20)
    startup = registered.registered_at - worker.started_at
    assert startup < 15, f"worker took {startup:.1f}s to register"

    req = registered.request
    assert req.agent_name == AGENT_NAME
    assert req.type == agent.JobType.JT_ROOM
    assert req.version == agents_version
    assert req.allowed_permissions.agent
    assert registered.worker_id.startswith("AW_")
    assert endpoint.sent[0].register.worker_id == registered.worker_id

    job = await endpoint.dispatch(AGENT_NAME, "call-room-1")
    assert job.availability.available
    assert job.availability.job_id == job.id
    assert job.availability.participant_attributes["lk.agent.name"] == AGENT_NAME
    # the default request handler accepts without an identity: the server makes one up
    assert job.availability.participant_identity in ("", f"agent-{job.id}")
    assert job.participant_identity.startswith("agent-")

    claims = api.TokenVerifier(API_KEY, API_SECRET).verify(job.assignment.token)
    assert claims.identity == job.participant_identity
    assert claims.kind == "agent"
    assert claims.video is not None
    assert claims.video.room_join and claims.video.agent
    assert claims.video.room == "call-room-1"
    assert job.assignment.url == endpoint.url

    success = await endpoint.wait_for_job_status(job.id, agent.JobStatus.JS_SUCCESS, timeout=10)
    assert success.error == ""
    assert [u.status for u in endpoint.job_updates(job.id)] == [
        agent.JobStatus.JS_RUNNING,
        agent.JobStatus.JS_SUCCESS,
    ]
    await eventually(lambda: bool(worker.markers()), 5, "the entrypoint marker")
    assert worker.markers() == [f"job={job.id} room=call-room-1"]

    kinds = [k for k in _kinds(endpoint) if k != "update_worker"]
    assert kinds == ["register", "availability", "update_job", "update_job"]
    assert [str(m.WhichOneof("message")) for m in endpoint.sent] == [
        "register",
        "availability",
        "assignment",
    ]
    assert endpoint.worker_status(registered.worker_id) is not None


async def test_terminate_ends_running_job(
    endpoint: AgentEndpoint, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker()
    await endpoint.wait_for_worker(AGENT_NAME, timeout=20)
    job = await endpoint.dispatch(AGENT_NAME, "call-room-2", metadata="stay")
    await endpoint.wait_for_job_status(job.id, agent.JobStatus.JS_RUNNING, timeout=10)
    await eventually(lambda: bool(worker.markers()), 5, "the entrypoint marker")

    await endpoint.terminate(job.id)
    # livekit-agents 1.8.9 reports a job ended by JobTermination as SUCCESS, not FAILED
    await endpoint.wait_for_job_status(job.id, agent.JobStatus.JS_SUCCESS, timeout=10)
    statuses = [u.status for u in endpoint.job_updates(job.id)]
    assert statuses == [agent.JobStatus.JS_RUNNING, agent.JobStatus.JS_SUCCESS]
    assert endpoint.sent[-1].termination.job_id == job.id


async def test_worker_reregisters_after_connection_drop(
    endpoint: AgentEndpoint, spawn_worker: SpawnWorker
) -> None:
    spawn_worker()
    first = await endpoint.wait_for_worker(AGENT_NAME, timeout=20)

    await endpoint.drop_workers()
    assert endpoint.workers == []
    second = await endpoint.wait_for_worker(AGENT_NAME, timeout=10)

    assert second.worker_id != first.worker_id
    assert [r.worker_id for r in endpoint.registrations] == [first.worker_id, second.worker_id]
    # the new registration is fully usable
    job = await endpoint.dispatch(AGENT_NAME, "call-room-3")
    assert job.worker_id == second.worker_id
    await endpoint.wait_for_job_status(job.id, agent.JobStatus.JS_SUCCESS, timeout=10)


async def test_worker_with_wrong_secret_is_refused(
    endpoint: AgentEndpoint, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(api_secret="wrong-secret-0123456789abcdef0123456789")
    await endpoint.until(lambda: bool(endpoint.auth_failures), 20, "the worker's refused connect")
    assert endpoint.auth_failures[0].startswith("invalid token")
    await eventually(lambda: "401" in worker.output(), 5, "the worker to log the 401")
    assert endpoint.registrations == []
    assert endpoint.messages == []
    with pytest.raises(NoWorkerError, match=AGENT_NAME):
        await endpoint.dispatch(AGENT_NAME, "call-room-4")


# -- in-process protocol edges ---------------------------------------------------------------


async def test_http_root_answers_ok(endpoint: AgentEndpoint) -> None:
    async with aiohttp.ClientSession() as session, session.get(endpoint.http_url + "/") as resp:
        assert resp.status == 200
        assert await resp.text() == "OK"


def _token(*, key: str = API_KEY, secret: str = API_SECRET, agent_grant: bool = True) -> str:
    return api.AccessToken(key, secret).with_grants(api.VideoGrants(agent=agent_grant)).to_jwt()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Bearer not-a-jwt"}, "invalid token"),
        ({"Authorization": f"Bearer {_token(secret='x' * 40)}"}, "invalid token"),
        ({"Authorization": f"Bearer {_token(key='otherkey')}"}, "invalid token"),
        ({"Authorization": f"Bearer {_token(agent_grant=False)}"}, "permissions denied"),
    ],
)
async def test_bad_credentials_get_401(
    endpoint: AgentEndpoint, headers: dict[str, str], reason: str
) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(endpoint.url + "/agent", headers=headers)
    assert info.value.status == 401
    assert endpoint.auth_failures[0].startswith(reason)


async def test_default_dev_credentials_and_ping() -> None:
    """devkey/secret (LiveKit's dev pair) is short for pyjwt: it must not trip warnings."""
    async with AgentEndpoint() as ep, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            ep.url + "/agent", headers={"Authorization": f"Bearer {_dev_token()}"}
        )
        async with ws:
            register = agent.WorkerMessage(
                register=agent.RegisterWorkerRequest(type=agent.JobType.JT_ROOM, agent_name="x")
            )
            await ws.send_bytes(register.SerializeToString())
            reply = agent.ServerMessage.FromString(await ws.receive_bytes(timeout=5))
            assert reply.WhichOneof("message") == "register"
            assert reply.register.worker_id

            ping = agent.WorkerMessage(ping=agent.WorkerPing(timestamp=1234))
            await ws.send_bytes(ping.SerializeToString())
            pong = agent.ServerMessage.FromString(await ws.receive_bytes(timeout=5))
            assert pong.pong.last_timestamp == 1234
            assert (await ep.wait_for_worker("x", timeout=1)).request.agent_name == "x"
        await ep.until(lambda: ep.workers == [], 5, "the closed socket to be forgotten")


def _dev_token() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return api.AccessToken("devkey", "secret").with_grants(api.VideoGrants(agent=True)).to_jwt()


async def test_register_must_come_first(endpoint: AgentEndpoint) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            endpoint.url + "/agent", headers={"Authorization": f"Bearer {_token()}"}
        )
        async with ws:
            status = agent.WorkerMessage(update_worker=agent.UpdateWorkerStatus())
            await ws.send_bytes(status.SerializeToString())
            msg = await ws.receive(timeout=5)
            assert msg.type == aiohttp.WSMsgType.CLOSE
    assert endpoint.registrations == []


async def test_dispatch_without_worker_fails_fast(endpoint: AgentEndpoint) -> None:
    with pytest.raises(NoWorkerError, match="wait_for_worker"):
        await endpoint.dispatch("nobody", "room")


async def test_rejection_is_reported(endpoint: AgentEndpoint) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            endpoint.url + "/agent", headers={"Authorization": f"Bearer {_token()}"}
        )
        async with ws:
            register = agent.WorkerMessage(
                register=agent.RegisterWorkerRequest(type=agent.JobType.JT_ROOM, agent_name="r")
            )
            await ws.send_bytes(register.SerializeToString())
            await ws.receive_bytes(timeout=5)

            async def refuse() -> None:
                req = agent.ServerMessage.FromString(await ws.receive_bytes(timeout=5))
                no = agent.AvailabilityResponse(job_id=req.availability.job.id, available=False)
                await ws.send_bytes(agent.WorkerMessage(availability=no).SerializeToString())

            refusal: Awaitable[None] = asyncio.create_task(refuse())
            with pytest.raises(JobRejectedError, match="available=False"):
                await endpoint.dispatch("r", "room")
            await refusal

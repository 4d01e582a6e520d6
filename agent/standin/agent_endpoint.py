"""A local stand-in for LiveKit's worker endpoint (the `/agent` WebSocket).

No LiveKit server exists in tests, yet the product is a real livekit-agents worker: this lets a
test run the unmodified worker (real CLI, registration, dispatch, job status reporting) against
an in-process server that speaks the same protobuf protocol and records everything it sees.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import WSCloseCode, WSMsgType, web
from livekit import api
from livekit.protocol import agent, models

from ..settings import SERVER_TARGET_LOAD
from .waiting import Changes
from .workers import (
    DispatchedJob,
    EndpointError,
    JobRejectedError,
    NoWorkerError,
    RegisteredWorker,
    WorkerConnection,
    agent_token,
    new_id,
    short_secrets_allowed,
)

# What a real server reports about itself; the worker only logs `region` and `protocol`.
_SERVER_VERSION = "agent-endpoint-stand-in"
_SERVER_PROTOCOL = 16


class AgentEndpoint:
    """Serves `/agent` (and `GET /` -> "OK") on 127.0.0.1 like a LiveKit server does for workers.

    Every `WorkerMessage` received is appended to `messages`; every `ServerMessage` sent to
    `sent`. Authentication failures (answered with HTTP 401) are listed in `auth_failures`.
    """

    def __init__(
        self,
        *,
        api_key: str = "devkey",
        api_secret: str = "secret",
        target_load: float = SERVER_TARGET_LOAD,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.target_load = target_load
        self.url = ""
        self.http_url = ""
        self.messages: list[agent.WorkerMessage] = []
        self.sent: list[agent.ServerMessage] = []
        self.auth_failures: list[str] = []
        self.registrations: list[RegisteredWorker] = []
        self._connections: list[WorkerConnection] = []
        self._sockets: set[web.WebSocketResponse] = set()
        self._job_updates: dict[str, list[agent.UpdateJobStatus]] = {}
        self._job_owner: dict[str, WorkerConnection] = {}
        self._room_sids: dict[str, str] = {}
        self._changes = Changes("AgentEndpoint")
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind a free port on 127.0.0.1 so parallel tests never collide."""
        if self._runner is not None:
            raise RuntimeError("AgentEndpoint already started")
        app = web.Application()
        app.router.add_get("/", self._handle_root)
        app.router.add_get("/agent", self._handle_agent)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1]
        self.url = f"ws://127.0.0.1:{port}"
        self.http_url = f"http://127.0.0.1:{port}"

    async def aclose(self) -> None:
        """Close worker sockets first: aiohttp would otherwise wait on open handlers."""
        await self.drop_workers(wait=False)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- queries used by tests -----------------------------------------------------------------

    @property
    def workers(self) -> list[RegisteredWorker]:
        """Registrations whose WebSocket is still open."""
        return [c.worker for c in self._connections]

    def job_updates(self, job_id: str) -> list[agent.UpdateJobStatus]:
        """Every UpdateJobStatus received for the job, in order."""
        return list(self._job_updates.get(job_id, []))

    def worker_status(self, worker_id: str) -> agent.UpdateWorkerStatus | None:
        """The last UpdateWorkerStatus of a connected worker (None before its first report)."""
        for conn in self._connections:
            if conn.worker.worker_id == worker_id:
                return conn.last_status
        return None

    async def wait_for_worker(self, agent_name: str, timeout: float = 30) -> RegisteredWorker:
        """Wait until a worker with this agent name is registered and connected."""

        def find() -> RegisteredWorker | None:
            for conn in reversed(self._connections):
                if conn.worker.request.agent_name == agent_name:
                    return conn.worker
            return None

        return await self._changes.until(find, timeout, f"a worker registered as {agent_name!r}")

    async def wait_for_job_status(
        self, job_id: str, status: agent.JobStatus, timeout: float = 30
    ) -> agent.UpdateJobStatus:
        """Wait for the worker to report this status for the job (already received counts)."""

        def find() -> agent.UpdateJobStatus | None:
            for update in self._job_updates.get(job_id, []):
                if update.status == status:
                    return update
            return None

        what = f"job {job_id} to report {agent.JobStatus.Name(status)}"
        return await self._changes.until(find, timeout, what)

    async def until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Return once `check()` holds; checked on every message, connection and refusal."""
        await self._changes.holds(check, timeout, what)

    # -- server-initiated actions -------------------------------------------------------------

    async def dispatch(
        self, agent_name: str, room: str, *, metadata: str = "", timeout: float = 10
    ) -> DispatchedJob:
        """Offer a room job to the registered workers like an explicit agent dispatch does.

        Sends AvailabilityRequest, and on acceptance JobAssignment with a room token; raises
        NoWorkerError / JobRejectedError / TimeoutError instead of leaving the job pending.
        As livekit-server 1.13.5 does, only workers reporting themselves available are asked,
        and none at all unless one of them reports a load under `target_load` (its workers
        bid `target_load - load`, and a job nobody bids for goes to no worker).
        """
        registered = [c for c in self._connections if c.worker.request.agent_name == agent_name]
        if not registered:
            known = sorted({c.worker.request.agent_name for c in self._connections})
            raise NoWorkerError(
                f"no connected worker registered as {agent_name!r} (connected: {known}); "
                "call wait_for_worker() first"
            )
        candidates = [c for c in registered if _available(c)]
        if not any(_load(c) < self.target_load for c in candidates):
            raise NoWorkerError(
                f"no servers available: no worker registered as {agent_name!r} reports itself"
                f" available with a load under {self.target_load}"
            )
        room_sid = self._room_sids.setdefault(room, new_id("RM_"))
        job = agent.Job(
            id=new_id("AJ_"),
            dispatch_id=new_id("AD_"),
            type=agent.JobType.JT_ROOM,
            room=models.Room(
                sid=room_sid,
                name=room,
                creation_time=int(time.time()),
                creation_time_ms=int(time.time() * 1000),
            ),
            agent_name=agent_name,
            metadata=metadata,
            state=agent.JobState(status=agent.JobStatus.JS_PENDING),
        )
        rejections: list[str] = []
        try:
            async with asyncio.timeout(timeout):
                for conn in candidates:
                    resp = await self._ask_availability(conn, job)
                    if resp is None:
                        rejections.append(f"{conn.worker.worker_id}: disconnected")
                        continue
                    if not resp.available:
                        rejections.append(
                            f"{conn.worker.worker_id}: available=False terminate={resp.terminate}"
                        )
                        continue
                    return await self._assign(conn, job, resp)
        except TimeoutError:
            raise TimeoutError(
                f"no AvailabilityResponse for job {job.id} within {timeout}s "
                f"(answers so far: {rejections})"
            ) from None
        raise JobRejectedError(f"job {job.id} for room {room!r} was rejected: {rejections}")

    async def terminate(self, job_id: str) -> None:
        """Send JobTermination to the worker running the job (what deleting a dispatch does)."""
        conn = self._job_owner.get(job_id)
        if conn is None or conn not in self._connections:
            raise EndpointError(f"job {job_id} has no connected worker")
        await self._send(conn, agent.ServerMessage(termination=agent.JobTermination(job_id=job_id)))

    async def drop_workers(self, *, wait: bool = True) -> None:
        """Close every worker WebSocket, as a server restart or network cut would."""
        sockets = list(self._sockets)
        for ws in sockets:
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"dropped by AgentEndpoint")
        if wait:
            await self.until(
                lambda: not any(c.ws in sockets for c in self._connections),
                10,
                "dropped connections to be cleaned up",
            )

    # -- internals -----------------------------------------------------------------------------

    def _auth_error(self, header: str) -> str | None:
        """Check the worker token the way LiveKit does; returns why it is refused."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return "missing bearer token"
        try:
            with short_secrets_allowed():
                claims = api.TokenVerifier(self.api_key, self.api_secret).verify(token.strip())
        except Exception as exc:  # jwt raises many types; any of them is a refusal
            return f"invalid token: {exc}"
        if not claims.video or not claims.video.agent:
            return "permissions denied: token lacks video.agent"
        return None

    async def _handle_root(self, request: web.Request) -> web.Response:
        """LiveKit answers GET / with "OK"; callers use it to probe that the server is up."""
        return web.Response(text="OK")

    async def _handle_agent(self, request: web.Request) -> web.StreamResponse:
        error = self._auth_error(request.headers.get("Authorization", ""))
        if error is not None:
            self.auth_failures.append(error)
            self._changes.changed()
            return web.Response(status=401, text=error)
        # autoping answers the client's heartbeat pings (aiohttp heartbeat=30 s in the worker)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        conn: WorkerConnection | None = None
        try:
            async for raw in ws:
                if raw.type != WSMsgType.BINARY:
                    continue  # the protocol is binary protobuf only
                msg = agent.WorkerMessage()
                msg.ParseFromString(raw.data)
                self.messages.append(msg)
                if conn is None:
                    if msg.WhichOneof("message") != "register":
                        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"register first")
                        break
                    conn = await self._register(ws, msg.register)
                else:
                    await self._on_message(conn, msg)
                self._changes.changed()
        finally:
            self._sockets.discard(ws)
            if conn is not None:
                self._connections.remove(conn)
                for fut in conn.pending.values():
                    if not fut.done():
                        fut.set_exception(ConnectionError("worker disconnected"))
            self._changes.changed()
        return ws

    async def _register(
        self, ws: web.WebSocketResponse, req: agent.RegisterWorkerRequest
    ) -> WorkerConnection:
        worker = RegisteredWorker(
            worker_id=new_id("AW_"), request=req, registered_at=time.monotonic()
        )
        conn = WorkerConnection(ws, worker)
        response = agent.RegisterWorkerResponse(
            worker_id=worker.worker_id,
            server_info=models.ServerInfo(
                edition=models.ServerInfo.Edition.Standard,
                version=_SERVER_VERSION,
                protocol=_SERVER_PROTOCOL,
                node_id=new_id("ND_"),
            ),
        )
        await self._send(conn, agent.ServerMessage(register=response))
        self.registrations.append(worker)
        self._connections.append(conn)
        return conn

    async def _on_message(self, conn: WorkerConnection, msg: agent.WorkerMessage) -> None:
        which = msg.WhichOneof("message")
        if which == "availability":
            fut = conn.pending.get(msg.availability.job_id)
            if fut is not None and not fut.done():
                fut.set_result(msg.availability)
        elif which == "update_job":
            self._job_updates.setdefault(msg.update_job.job_id, []).append(msg.update_job)
        elif which == "update_worker":
            conn.last_status = msg.update_worker
        elif which == "ping":
            pong = agent.WorkerPong(
                last_timestamp=msg.ping.timestamp, timestamp=int(time.time() * 1000)
            )
            await self._send(conn, agent.ServerMessage(pong=pong))
        elif which == "migrate_job":
            # jobs still running after a reconnect now belong to this connection
            for job_id in msg.migrate_job.job_ids:
                self._job_owner[job_id] = conn

    async def _send(self, conn: WorkerConnection, msg: agent.ServerMessage) -> None:
        self.sent.append(msg)
        await conn.ws.send_bytes(msg.SerializeToString())

    async def _ask_availability(
        self, conn: WorkerConnection, job: agent.Job
    ) -> agent.AvailabilityResponse | None:
        """Returns None when the worker went away before answering."""
        fut: asyncio.Future[agent.AvailabilityResponse] = asyncio.get_running_loop().create_future()
        conn.pending[job.id] = fut
        try:
            await self._send(
                conn, agent.ServerMessage(availability=agent.AvailabilityRequest(job=job))
            )
            return await fut
        except ConnectionError:
            return None
        finally:
            conn.pending.pop(job.id, None)

    async def _assign(
        self, conn: WorkerConnection, job: agent.Job, resp: agent.AvailabilityResponse
    ) -> DispatchedJob:
        identity = resp.participant_identity or f"agent-{job.id}"
        job.state.participant_identity = identity
        job.state.worker_id = conn.worker.worker_id
        token = agent_token(self.api_key, self.api_secret, conn.worker, job, resp, identity)
        assignment = agent.JobAssignment(job=job, url=self.url, token=token)
        self._job_owner[job.id] = conn
        await self._send(conn, agent.ServerMessage(assignment=assignment))
        return DispatchedJob(
            job=job, worker_id=conn.worker.worker_id, availability=resp, assignment=assignment
        )


def _available(conn: WorkerConnection) -> bool:
    """A worker's last reported status (available until its first report, as on the server)."""
    return conn.last_status is None or conn.last_status.status == agent.WorkerStatus.WS_AVAILABLE


def _load(conn: WorkerConnection) -> float:
    return conn.last_status.load if conn.last_status is not None else 0.0

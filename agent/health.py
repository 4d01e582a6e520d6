"""The worker's health endpoint: livekit-agents' own check plus the handlers that must work.

livekit-agents serves `GET /` (503 when it cannot reach LiveKit) and `GET /worker` from an
aiohttp app it builds and starts inside `AgentServer.run()`, leaving no public way to add
a check to it. So this server takes `SIP_AGENT_HEALTH_PORT`, the SDK's moves to a free
port on loopback, and `GET /` here answers 503 when either the SDK's check or one of ours
fails; `GET /worker` is passed through.

Two kinds of check, so a component can use whichever it knows best:
- pull: `add_check(name, check)` where `check()` returns a problem or None; handlers that
  define `async def health_check(self) -> str | None` are registered at start (one
  instance built for it, kept for the worker's life), which works under both executors
  because the check runs in the worker process;
- push: `report(name, problem)` from code running in the worker process (the thread
  executor's jobs), with `report(name, None)` once it works again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

import aiohttp
from aiohttp import web

from .capacity import CallsServer

Check = Callable[[], Awaitable[str | None]]
# A probe runs every few seconds: a check that hangs must not hang the probe.
CHECK_TIMEOUT_S = 2.0


class Health:
    """What must work for this worker to be healthy."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._reports: dict[str, str] = {}

    def add_check(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def report(self, name: str, problem: str | None) -> None:
        if problem is None:
            self._reports.pop(name, None)
        else:
            self._reports[name] = problem

    async def problems(self) -> dict[str, str]:
        found = dict(self._reports)
        names = list(self._checks)
        results = await asyncio.gather(
            *(self._run(self._checks[name]) for name in names), return_exceptions=True
        )
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                found[name] = f"check failed: {result!r}"
            elif result is not None:
                found[name] = result
        return found

    @staticmethod
    async def _run(check: Check) -> str | None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                return await check()
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT_S:g}s"


HEALTH = Health()
"""This process's health: what `python -m agent start` serves."""


class HealthServer:
    """`GET /` and `GET /worker` on the health port, in front of the SDK's own server."""

    def __init__(self, health: Health, sdk_port: Callable[[], int]) -> None:
        self._health = health
        self._sdk_port = sdk_port
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/", self._root)
        app.router.add_get("/worker", self._passed_through)
        app.router.add_get("/livez", self._passed_through)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _sdk(self, path: str) -> tuple[int, str, str]:
        assert self._session is not None
        # The SDK's server listens on loopback only (see server.py).
        url = f"http://127.0.0.1:{self._sdk_port()}{path}"
        try:
            async with self._session.get(url) as resp:
                return resp.status, resp.content_type, await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 503, "text/plain", f"worker health server unreachable: {exc!r}"

    async def _root(self, _: web.Request) -> web.Response:
        status, _type, text = await self._sdk("/")
        lines = [] if status == 200 else [f"livekit: {text}"]
        lines += [f"{name}: {problem}" for name, problem in (await self._health.problems()).items()]
        if lines:
            return web.Response(status=503, text="\n".join(lines))
        return web.Response(text="OK")

    async def _passed_through(self, request: web.Request) -> web.Response:
        # `/livez` is the SDK's own check alone, for a liveness probe: a webhook receiver
        # that is down makes the worker unhealthy (`/`), but restarting it would not help.
        path = "/worker" if request.path == "/worker" else "/"
        status, content_type, text = await self._sdk(path)
        return web.Response(status=status, text=text, content_type=content_type)


def add_handler_checks(health: Health, handlers: Iterable[object]) -> None:
    """Register the `health_check` of each handler that has one: those are required."""
    for handler in handlers:
        check = getattr(handler, "health_check", None)
        if callable(check):
            health.add_check(str(getattr(handler, "name", repr(handler))), check)


def serve(server: CallsServer, health: Health, host: str, port: int) -> HealthServer:
    """Serve `health` on `port` once the worker runs (its own server is on a free port);
    closed with the worker."""
    front = HealthServer(health, lambda: server.worker_info.http_port)
    server.close_with_worker(front.aclose)
    tasks: set[asyncio.Task[None]] = set()

    def started() -> None:
        task = asyncio.get_running_loop().create_task(front.start(host, port))
        tasks.add(task)  # a reference, or the loop may drop the task before it runs
        task.add_done_callback(tasks.discard)

    server.on("worker_started", started)
    return front

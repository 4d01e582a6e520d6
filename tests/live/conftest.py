"""Fixtures of the live tier: the real LiveKit server and SIP service, our worker as users run
it, and SIP phones (sipp). Started once per session on free loopback ports.

    pytestmark = pytest.mark.live

    async def test_x(live_stack, live_worker, phone):
        async with phone.call("caller_hangs_up", to=NUMBER, caller=..., call_sid=...) as sipp:
            started = await sipp.meanwhile(live_worker.wait_for_event("call.started", ...))
            ...

- `live_stack` (session): `Stack` with URLs, keys, `sip_port`, `logs`, and `events` (the
  server's webhooks: `await live_stack.events.agent_left(room)`).
- `live_trunks` (session): `Provisioned` trunk and rule ids, made from deploy/livekit/.
- `live_worker` (session): `Worker` running `python -m agent start`: `wait_for_event`,
  `events`, `stored_call`. `start_worker(stack, dir, **settings)` starts another one.
- `phone`: `Phone` with `call(scenario, **keys)` and `answer(scenario, **keys)`.
- `voice_line(VoiceScript(...), **settings)` (module): a number whose calls get a worker and
  a real livekit-agents voice agent (tests/live/voice_agent.py); `voice_call(...)` in
  tests/live/voice.py places a call that speaks in `Bursts` and gives what a participant that
  subscribes to nothing saw (`call.facts`: tests/live/listener.py).
- `lkapi`: `api.LiveKitAPI` for the stack. `room.join(stack, room)` adds a participant of
  the test's own (`publish_tone()` answers a ringing inbound call).

Needs `redis-server`, `livekit-server`, `livekit-sip` and `sipp` on PATH (.ci/install-livekit
installs them and prints their directory). Without them the tests skip, or fail under CI.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import replace
from pathlib import Path

import pytest
from livekit import api

from .provision import Line, Provisioned, provision, provision_line
from .sipp import Phone, write_pcmu_tone
from .stack import Stack, free_port, missing_binaries, start_stack, tail
from .voice import VoiceLine, start_voice_agent
from .voice_agent import VoiceScript
from .worker import Worker, start_worker


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, livekit-server and livekit-sip, ready; their logs in `stack.logs`."""
    missing = missing_binaries()
    if missing:
        install = 'PATH="$(.ci/install-livekit):$PATH"'
        msg = f"live tests need {', '.join(missing)} on PATH: {install}"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    with start_stack(tmp_path_factory.mktemp("live-stack")) as stack:
        yield stack


@pytest.fixture(scope="session")
def live_trunks(live_stack: Stack) -> Provisioned:
    """The deploy files' inbound trunk and dispatch rule, plus a quick-give-up trunk and an
    outbound trunk to a sipp UAS port, created through the API."""

    async def create() -> Provisioned:
        stack = live_stack
        async with api.LiveKitAPI(stack.http_url, stack.api_key, stack.api_secret) as lkapi:
            return await provision(lkapi, uas_port=free_port())

    return asyncio.run(create())


@pytest.fixture(scope="session")
def live_worker(
    live_stack: Stack, live_trunks: Provisioned, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """`python -m agent start` against the stack, registered; shared by the session's tests
    (each test finds its own calls by their ids)."""
    with start_worker(live_stack, tmp_path_factory.mktemp("live-worker")) as worker:
        yield worker


@pytest.fixture
async def lkapi(live_stack: Stack) -> AsyncIterator[api.LiveKitAPI]:
    """LiveKit's server API client for the stack."""
    stack = live_stack
    async with api.LiveKitAPI(stack.http_url, stack.api_key, stack.api_secret) as client:
        yield client


@pytest.fixture(scope="session")
def pcmu_tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pcmu_tone(tmp_path_factory.mktemp("audio") / "tone.pcmu")


@pytest.fixture
def phone(live_stack: Stack, live_trunks: Provisioned, pcmu_tone: Path, tmp_path: Path) -> Phone:
    """SIP phones (sipp with tests/live/sipp/*.xml) that call the stack's SIP service
    (`phone.call`) or answer its outbound calls (`phone.answer`)."""
    target = f"127.0.0.1:{live_stack.sip_port}"
    return Phone(target, live_trunks.uas_port, tmp_path, pcmu_tone)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed live test shows where the servers' and the worker's logs are, with tails."""
    report: pytest.TestReport = yield
    funcargs = getattr(item, "funcargs", {})
    if report.failed and "live_stack" in funcargs:
        logs: dict[str, Path] = dict(funcargs["live_stack"].logs)
        if "live_worker" in funcargs:
            logs["worker"] = funcargs["live_worker"].log
        sections = [f"{name}: {path}\n{tail(path, 15)}" for name, path in logs.items()]
        report.sections.append(("live logs", "\n\n".join(sections)))
    return report


_line_numbers = iter(range(200, 300))


def _new_line(stack: Stack, n: int, agent_name: str, also: tuple[str, ...] = ()) -> Line:
    """Line `n`: number +1510555<n>, its rule dispatching `agent_name` and `also`."""

    async def create() -> Line:
        async with api.LiveKitAPI(stack.http_url, stack.api_key, stack.api_secret) as lk:
            return await provision_line(lk, f"+1510555{n:04d}", agent_name, also=also)

    # In a thread of its own: the caller may be an async test with a running loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, create()).result()


@pytest.fixture(scope="module")
def own_line(
    live_stack: Stack, live_trunks: Provisioned, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., tuple[Line, Worker]]]:
    """`own_line(**settings)` -> a Line (number, trunk, dispatch rule) and a worker registered
    for it alone, started with these SIP_AGENT_* settings (`handlers="store,log,router"`,
    `rules=...`; `wrapper=[...]`: a command it runs under), stopped at the end of the module.
    Returns (line, worker)."""
    started: list[AbstractContextManager[Worker]] = []

    def make(wrapper: Sequence[str] = (), **settings: str) -> tuple[Line, Worker]:
        n = next(_line_numbers)
        agent_name = f"sip-agent-line-{n}"
        line = _new_line(live_stack, n, agent_name)
        workdir = tmp_path_factory.mktemp(agent_name)
        manager = start_worker(live_stack, workdir, wrapper, name=agent_name, **settings)
        worker = manager.__enter__()
        started.append(manager)
        return line, worker

    yield make
    for manager in reversed(started):
        manager.__exit__(None, None, None)


@pytest.fixture(scope="module")
def voice_line(
    live_stack: Stack, live_trunks: Provisioned, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., VoiceLine]]:
    """`voice_line(VoiceScript(...), **settings)` -> a VoiceLine: a number whose dispatch rule
    sends its calls to a worker of its own (these SIP_AGENT_* settings, as `own_line`) and to
    a real livekit-agents voice agent playing the script (`VoiceScript(silent=True)`: one
    that never speaks). The same arguments give the same line within the module; everything
    stops at the module's end. Call it with `phone.call(..., audio=Bursts().write(path))`."""
    lines: dict[tuple[VoiceScript, tuple[tuple[str, str], ...]], VoiceLine] = {}
    with ExitStack() as running:

        def make(script: VoiceScript | None = None, **settings: str) -> VoiceLine:
            key = (script or VoiceScript(), tuple(sorted(settings.items())))
            if key not in lines:
                n = next(_line_numbers)
                worker_name, voice = f"sip-agent-line-{n}", replace(key[0], name=f"voice-{n}")
                line = _new_line(live_stack, n, worker_name, also=(voice.name,))
                worker_dir = tmp_path_factory.mktemp(worker_name)
                worker = running.enter_context(
                    start_worker(live_stack, worker_dir, name=worker_name, **settings)
                )
                voice_dir = tmp_path_factory.mktemp(voice.name)
                agent = running.enter_context(start_voice_agent(live_stack, voice_dir, voice))
                lines[key] = VoiceLine(line, worker, agent, voice)
            return lines[key]

        yield make

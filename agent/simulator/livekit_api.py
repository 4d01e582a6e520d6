"""LiveKit's API for a play: the Twirp stand-in on 127.0.0.1, answering as `[answers]` says
and acting on the same FakeLiveKit the rooms live on, with each request shown as it is made.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from livekit import api

from ..standin import (
    FakeLiveKit,
    Reply,
    TwirpError,
    TwirpRequest,
    TwirpServer,
    room_answers,
    room_effects,
)
from .model import Scenario

API_KEY = "simulator"
API_SECRET = "simulator-secret-of-at-least-32-bytes"
"""The stand-in's own credentials (HS256 wants 32 bytes); no real ones are read."""

# What identifies each request on its line: (label, field); no label shows the bare value.
SHOWN: Mapping[str, tuple[tuple[str, str], ...]] = {
    "RoomService/RemoveParticipant": (("", "identity"),),
    "RoomService/DeleteRoom": (("", "room"),),
    "RoomService/UpdateParticipant": (("", "identity"), ("attributes=", "attributes")),
    "SIP/TransferSIPParticipant": (("", "participant_identity"), ("to=", "transfer_to")),
    "SIP/CreateSIPParticipant": (("to=", "sip_call_to"), ("as ", "participant_identity")),
    "AgentDispatchService/CreateDispatch": (("agent=", "agent_name"),),
}
IDENTITIES = frozenset({"identity", "participant_identity"})
QUERIES = frozenset({"RoomService/ListRooms"})
"""Requests that only ask (the worker checking a room is gone): not shown, they act on nothing."""


def request_line(
    request: TwirpRequest, answer: Reply | TwirpError, names: Mapping[str, str]
) -> str:
    """`-> LiveKit: TransferSIPParticipant caller to=tel:+1555… (603 Decline)`; scenario
    calls go by their names, which also keeps callers' numbers (in identities) off screen."""
    parts = [request.method.partition("/")[2]]
    for label, key in SHOWN.get(request.method, ()):
        value = request.body.get(key)
        if value:
            parts.append(f"{label}{names.get(value, value) if key in IDENTITIES else value}")
    if isinstance(answer, TwirpError):
        sip = answer.meta.get("sip_status_code")
        verdict = f"{sip} {answer.meta['sip_status']}" if sip else f"{answer.status} {answer.msg}"
    else:
        verdict = "ok"
    return f"-> LiveKit: {' '.join(parts)} ({verdict})"


class Requests:
    """The jobs' requests, counted where they start (the client's aiohttp session), so
    the player can let every request a step set off be answered before the next step."""

    def __init__(self) -> None:
        self.started = 0
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def tracing(self) -> aiohttp.TraceConfig:
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(self._start)
        trace.on_request_end.append(self._end)
        trace.on_request_exception.append(self._end)
        return trace

    async def _start(self, *_: Any) -> None:
        self.started += 1
        self._in_flight += 1
        self._idle.clear()

    async def _end(self, *_: Any) -> None:
        self._in_flight -= 1
        if not self._in_flight:
            self._idle.set()

    async def answered(self) -> None:
        """Return once no request is waiting for its answer."""
        await self._idle.wait()


@asynccontextmanager
async def livekit_api(
    livekit: FakeLiveKit, scenario: Scenario, out: Callable[[str], None]
) -> AsyncIterator[tuple[api.LiveKitAPI, Requests]]:
    """The stand-in running for the play, a client of it for the jobs, and its requests."""
    names = {spec.identity: name for name, spec in scenario.calls.items()}
    server = TwirpServer(
        livekit.api_key,
        livekit.api_secret,
        on_success=room_effects(livekit),
        responder=room_answers(livekit),
        on_answer=lambda request, answer: (
            None if request.method in QUERIES else out(request_line(request, answer, names))
        ),
    )
    for method, answers in scenario.answers.items():
        server.script(method, *answers)
    requests = Requests()
    async with server, aiohttp.ClientSession(trace_configs=[requests.tracing()]) as session:
        yield (
            api.LiveKitAPI(server.url, livekit.api_key, livekit.api_secret, session=session),
            requests,
        )

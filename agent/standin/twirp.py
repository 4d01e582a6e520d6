"""A local stand-in for LiveKit's Twirp API (the calls the call-control facade makes).

It answers on 127.0.0.1 the way a LiveKit server does: `POST /twirp/livekit.<Service>/<Method>`
with a protobuf body (or protobuf JSON), a bearer JWT signed with the API key and secret that
must carry the grants LiveKit checks for that method, and Twirp error bodies
`{"code", "msg", "meta"}` whose SIP failures carry `sip_status_code` / `sip_status` in `meta`
(what livekit-api turns into `SipCallError`). Every request is recorded as received, and
answers are scripted per method: success, a Twirp error, a delay.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from livekit import api

from .answers import Answer, Delay, Reply, TwirpError, TwirpRequest
from .waiting import Changes

__all__ = ["METHODS", "AnswerHook", "Hook", "Responder", "TwirpServer"]


@dataclass(frozen=True, slots=True)
class _Method:
    request: type[Message]
    response: type[Message]
    grants: Callable[[Mapping[str, Any], Message], str | None]
    """The grant problem with these claims for this request, or None when allowed."""


def _room_admin(room_field: str) -> Callable[[Mapping[str, Any], Message], str | None]:
    def check(claims: Mapping[str, Any], request: Message) -> str | None:
        video = claims.get("video") or {}
        room = getattr(request, room_field)
        if not video.get("roomAdmin") or video.get("room") != room:
            return f"requires roomAdmin for room {room!r}"
        return None

    return check


def _sip_call(
    also: Callable[[Mapping[str, Any], Message], str | None] | None = None,
) -> Callable[[Mapping[str, Any], Message], str | None]:
    def check(claims: Mapping[str, Any], request: Message) -> str | None:
        if not (claims.get("sip") or {}).get("call"):
            return "requires SIP call grant"
        return also(claims, request) if also is not None else None

    return check


def _room_create(claims: Mapping[str, Any], request: Message) -> str | None:
    return None if (claims.get("video") or {}).get("roomCreate") else "requires roomCreate"


def _room_list(claims: Mapping[str, Any], request: Message) -> str | None:
    return None if (claims.get("video") or {}).get("roomList") else "requires roomList"


METHODS: Mapping[str, _Method] = {
    "livekit.RoomService/RemoveParticipant": _Method(
        api.RoomParticipantIdentity, api.RemoveParticipantResponse, _room_admin("room")
    ),
    "livekit.RoomService/DeleteRoom": _Method(
        api.DeleteRoomRequest, api.DeleteRoomResponse, _room_create
    ),
    "livekit.RoomService/ListRooms": _Method(
        api.ListRoomsRequest, api.ListRoomsResponse, _room_list
    ),
    "livekit.RoomService/ListParticipants": _Method(
        api.ListParticipantsRequest, api.ListParticipantsResponse, _room_admin("room")
    ),
    "livekit.RoomService/UpdateParticipant": _Method(
        api.UpdateParticipantRequest, api.ParticipantInfo, _room_admin("room")
    ),
    "livekit.SIP/TransferSIPParticipant": _Method(
        api.TransferSIPParticipantRequest,
        api.TransferSIPParticipantResponse,
        _sip_call(_room_admin("room_name")),
    ),
    "livekit.SIP/CreateSIPParticipant": _Method(
        api.CreateSIPParticipantRequest, api.SIPParticipantInfo, _sip_call()
    ),
    "livekit.AgentDispatchService/CreateDispatch": _Method(
        api.CreateAgentDispatchRequest, api.AgentDispatch, _room_admin("room")
    ),
}


Hook = Callable[[TwirpRequest], Awaitable[None] | None]
AnswerHook = Callable[[TwirpRequest, Reply | TwirpError], None]
Responder = Callable[[TwirpRequest], Reply | None]


class TwirpServer:
    """`async with TwirpServer(key, secret) as server:` then point LIVEKIT_URL at `server.url`."""

    def __init__(
        self,
        api_key: str = "devkey",
        api_secret: str = "secret-of-at-least-32-bytes-for-hs256",
        *,
        on_success: Hook | None = None,
        on_answer: AnswerHook | None = None,
        responder: Responder | None = None,
    ) -> None:
        self.api_key = api_key
        self._secret = api_secret
        self.requests: list[TwirpRequest] = []
        self.on_success = on_success
        """Runs after a successful answer's request is recorded, e.g. to make a fake room
        react as LiveKit would (a removed participant leaves with PARTICIPANT_REMOVED)."""
        self.on_answer = on_answer
        """Sees each request with the answer it gets, before `on_success`: e.g. to show
        what the worker asked of LiveKit in the order it happened."""
        self.responder = responder
        """Answers a request nothing was scripted for (None: an empty success), e.g.
        ListRooms from a fake server's rooms."""
        self._script: defaultdict[str, deque[Answer]] = defaultdict(deque)
        self._runner: web.AppRunner | None = None
        self._changes = Changes("TwirpServer")
        self.url = ""

    def script(self, method: str, *answers: Answer) -> None:
        """Queue answers for `Service/Method` (e.g. `SIP/TransferSIPParticipant`), used in
        order; once they are used up the method succeeds with an empty response."""
        if f"livekit.{method}" not in METHODS:
            raise ValueError(f"unknown method {method!r}; known: {sorted(self.methods)}")
        self._script[method].extend(answers)

    @property
    def methods(self) -> list[str]:
        return [name.removeprefix("livekit.") for name in METHODS]

    def sent(self, method: str) -> list[dict[str, Any]]:
        """Bodies of the requests received for `Service/Method`, in order."""
        return [r.body for r in self.requests if r.method == method]

    async def received(
        self, method: str, count: int = 1, timeout: float = 5
    ) -> list[dict[str, Any]]:
        """The bodies of `method`'s requests once `count` of them arrived (answered or not)."""

        def enough() -> list[dict[str, Any]] | None:
            bodies = self.sent(method)
            return bodies if len(bodies) >= count else None

        return await self._changes.until(
            enough, timeout, f"{count} {method}", lambda: [r.method for r in self.requests]
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/twirp/{method:.+}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TwirpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _handle(self, http: web.Request) -> web.Response:
        name = http.match_info["method"]
        method = METHODS.get(name)
        if method is None:
            return _error(TwirpError(404, "bad_route", f"no handler for path /twirp/{name}"))
        claims = self._claims(http.headers.get("Authorization", ""))
        if isinstance(claims, TwirpError):
            return _error(claims)
        raw = await http.read()
        content_type = http.content_type
        try:
            if content_type == "application/json":
                message = json_format.Parse(raw or b"{}", method.request())
            else:
                message = method.request.FromString(raw)
        except (DecodeError, json_format.ParseError) as exc:
            return _error(TwirpError(400, "malformed", f"cannot decode request: {exc}"))
        problem = method.grants(claims, message)
        if problem is not None:
            return _error(TwirpError(403, "permission_denied", problem))
        request = TwirpRequest(
            method=name.removeprefix("livekit."),
            body=json_format.MessageToDict(message, preserving_proto_field_name=True),
            claims=claims,
            content_type=content_type,
        )
        self.requests.append(request)
        self._changes.changed()
        queued = self._script[request.method]
        answer: Answer = queued.popleft() if queued else self._default(request)
        if isinstance(answer, Delay):
            await asyncio.sleep(answer.seconds)
            answer = answer.then
        if self.on_answer is not None:
            self.on_answer(request, answer)
        if isinstance(answer, TwirpError):
            return _error(answer)
        if self.on_success is not None:
            done = self.on_success(request)
            if done is not None:
                await done
        response = json_format.ParseDict(dict(answer.body), method.response())
        if content_type == "application/json":
            return web.json_response(json_format.MessageToDict(response))
        return web.Response(body=response.SerializeToString(), content_type="application/protobuf")

    def _default(self, request: TwirpRequest) -> Reply:
        answer = self.responder(request) if self.responder is not None else None
        return answer if answer is not None else Reply()

    def _claims(self, authorization: str) -> dict[str, Any] | TwirpError:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            return TwirpError(401, "unauthenticated", "missing bearer token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=["HS256"], options={"require": ["iss", "exp"]}
            )
        except jwt.PyJWTError as exc:
            return TwirpError(401, "unauthenticated", f"invalid token: {exc}")
        if claims.get("iss") != self.api_key:
            return TwirpError(401, "unauthenticated", f"unknown API key {claims.get('iss')!r}")
        return claims


def _error(error: TwirpError) -> web.Response:
    body: dict[str, Any] = {"code": error.code, "msg": error.msg}
    if error.meta:
        body["meta"] = dict(error.meta)
    return web.Response(status=error.status, text=json.dumps(body), content_type="application/json")

"""More inbound calls from a SIP phone through LiveKit's real SIP service to our worker: one
nobody answers, one whose phone falls silent, DTMF pressed on the phone, and the signed
webhooks of a real call."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from livekit import rtc
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from agent.store import CallStore

from .calls import until_the_phone_is_done, wait_started
from .provision import NUMBER, QUICK_GIVE_UP_NUMBER, QUICK_RINGING_S, Line, Provisioned
from .records import Record, Records, where
from .room import Guest, join
from .siplog import response_to, sip_messages
from .sipp import Phone, caller_keys
from .stack import HOST, Stack
from .worker import Worker

pytestmark = pytest.mark.live

MEDIA_TIMEOUT_S = 15
"""LiveKit's SIP service hangs up an answered call after this long without the caller's RTP."""
TONE_S = 1
"""How long caller_goes_quiet.xml sends RTP (tone.pcmu, once) before it falls silent."""


def call_events(worker: Worker, call_id: str) -> list[Record]:
    """The call's events, in order (the worker's other lines about the call left out)."""
    return [r for r in worker.events(call_id=call_id) if r["event"].startswith("call.")]


def event_types(worker: Worker, call_id: str) -> list[str]:
    return [r["event"] for r in call_events(worker, call_id)]


def the_end(ended: Record) -> tuple[Any, Any, Any]:
    return ended["outcome"], ended["ended_by"], ended["disconnect_reason"]


@dataclass
class SipParticipantView:
    """What another participant of the room sees of the SIP participant: its attribute
    changes and its disconnect reason."""

    changes: list[dict[str, str]] = field(default_factory=list)
    reason: str | None = None
    gone: asyncio.Event = field(default_factory=asyncio.Event)


def watch_sip_participant(guest: Guest) -> SipParticipantView:
    view = SipParticipantView()

    def is_sip(participant: rtc.Participant) -> bool:
        return rtc.ParticipantKind.Name(participant.kind) == "PARTICIPANT_KIND_SIP"

    def changed(changes: dict[str, str], participant: rtc.Participant) -> None:
        if is_sip(participant):
            view.changes.append(dict(changes))

    def disconnected(participant: rtc.RemoteParticipant) -> None:
        if is_sip(participant):
            reason = participant.disconnect_reason
            view.reason = None if reason is None else rtc.DisconnectReason.Name(reason)
            view.gone.set()

    guest.room.on("participant_attributes_changed", changed)
    guest.room.on("participant_disconnected", disconnected)
    return view


async def test_never_answered(
    live_stack: Stack, live_trunks: Provisioned, live_worker: Worker, phone: Phone
) -> None:
    """Nobody publishes audio on a trunk that rings for 3 s: LiveKit answers the phone 486
    and the participant leaves CLIENT_INITIATED with no `hangup` written: no-answer, system."""
    keys = caller_keys(QUICK_GIVE_UP_NUMBER)
    started, result, ended = await until_the_phone_is_done(  # caller_waits: for the 486
        live_stack, phone, live_worker, "caller_waits", keys, answer=False
    )
    call_id = started["call_id"]

    messages = sip_messages(result)
    invite = messages[0]
    rejected = response_to(messages, "INVITE", by_phone=False)
    assert (invite.method, rejected.status) == ("INVITE", 486), rejected.text
    # The trunk's ringing timeout counts from the INVITE; the participant joins later, so
    # the worker's ringing_s (from its first sight of the call) is a little shorter.
    rang_s = (rejected.at - invite.at).total_seconds()
    assert QUICK_RINGING_S <= rang_s < QUICK_RINGING_S + 5, rang_s
    assert 0 < ended["ringing_s"] <= rang_s, ended
    assert started["trunk_id"] == live_trunks.quick_give_up_trunk_id
    assert the_end(ended) == ("no-answer", "system", "CLIENT_INITIATED")
    assert ended["status"] == "ringing"
    assert ended["talk_s"] == 0
    assert event_types(live_worker, call_id) == ["call.started", "call.ended"]


async def test_media_timeout(live_stack: Stack, live_worker: Worker, phone: Phone) -> None:
    """Answered, then the phone sends no more RTP but stays in the call: LiveKit hangs up
    (BYE) 15 s after the last packet. The room sees what a caller's BYE shows (`hangup`,
    then CLIENT_INITIATED), so the worker reports completed / caller."""
    keys = caller_keys(NUMBER)
    async with phone.call("caller_goes_quiet", **keys) as sipp:  # it waits for the BYE
        started = await wait_started(sipp, live_worker, keys)
        call_id = started["call_id"]
        async with join(live_stack, started["room"]) as guest:
            view = watch_sip_participant(guest)
            await guest.publish_tone()
            await sipp.meanwhile(live_worker.wait_for_event("call.answered", call_id=call_id))
            result = await sipp.wait(timeout=MEDIA_TIMEOUT_S + 45)
            assert result.returncode == 0, result.describe()
            ended = await live_worker.wait_for_event("call.ended", call_id=call_id)
            await asyncio.wait_for(view.gone.wait(), 30)
        await live_stack.events.agent_left(started["room"])

    # From the answer: the tone, then the media timeout (plus LiveKit's timer granularity).
    assert MEDIA_TIMEOUT_S <= ended["talk_s"] < MEDIA_TIMEOUT_S + TONE_S + 4, ended
    assert the_end(ended) == ("completed", "caller", "CLIENT_INITIATED")
    assert event_types(live_worker, call_id) == [
        "call.started",
        "call.status_changed",
        "call.answered",
        "call.status_changed",
        "call.ended",
    ]
    # Nothing in the room tells a media timeout from a caller's BYE (see the DTMF test).
    assert view.changes[-1] == {"sip.callStatus": "hangup"}, view.changes
    assert view.reason == "CLIENT_INITIATED"


async def test_dtmf_from_the_phone(live_stack: Stack, live_worker: Worker, phone: Phone) -> None:
    """The phone presses 1 (RFC 4733 telephone-event, payload type 101 as its SDP offers):
    one call.dtmf, digit "1", code 1; then the caller hangs up."""
    keys = caller_keys(NUMBER)
    async with phone.call("caller_sends_dtmf", **keys) as sipp:
        started = await wait_started(sipp, live_worker, keys)
        call_id = started["call_id"]
        async with join(live_stack, started["room"]) as guest:
            view = watch_sip_participant(guest)
            await guest.publish_tone()
            await sipp.meanwhile(live_worker.wait_for_event("call.answered", call_id=call_id))
            sipp.go()  # press 1
            dtmf = await sipp.meanwhile(live_worker.wait_for_event("call.dtmf", call_id=call_id))
            sipp.go()  # hang up
            result = await sipp.wait()
            assert result.returncode == 0, result.describe()
            ended = await live_worker.wait_for_event("call.ended", call_id=call_id)
            await asyncio.wait_for(view.gone.wait(), 30)
        await live_stack.events.agent_left(started["room"])

    assert dtmf["digit"] == "1"
    assert live_worker.db_url is not None
    timeline = CallStore.open(live_worker.db_url).timeline(call_id)
    (stored,) = [json.loads(row["data"]) for row in timeline if row["type"] == "call.dtmf"]
    assert (stored["digit"], stored["code"]) == ("1", 1), stored
    assert event_types(live_worker, call_id) == [
        "call.started",
        "call.status_changed",
        "call.answered",
        "call.dtmf",
        "call.status_changed",
        "call.ended",
    ]
    assert the_end(ended) == ("completed", "caller", "CLIENT_INITIATED")
    # A caller's BYE, as the room sees it: the same as LiveKit's media timeout.
    assert view.changes[-1] == {"sip.callStatus": "hangup"}, view.changes
    assert view.reason == "CLIENT_INITIATED"


# --- signed webhooks -------------------------------------------------------------------


@dataclass
class WebhookReceiver:
    """An HTTP endpoint of the test's own that verifies Standard Webhooks signatures."""

    url: str
    deliveries: Records
    """Verified deliveries: `{"headers": {...}, "body": {...}}`, in arrival order."""
    refused: list[str]
    """Deliveries whose signature did not verify (answered 401)."""


@contextmanager
def receive_signed_webhooks(secret: str) -> Iterator[WebhookReceiver]:
    """aiohttp on a free loopback port, in a thread with its own event loop."""
    verifier = Webhook(secret)
    deliveries = Records(lambda: f"webhooks delivered: {[d['body'] for d in deliveries.all()]}")
    refused: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            verifier.verify(body, headers)
        except WebhookVerificationError as exc:
            refused.append(f"{exc}: {headers}")
            return web.Response(status=401)
        deliveries.add({"headers": headers, "body": json.loads(body)})
        return web.Response(status=200)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]

    async def start() -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        return runner

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="webhook-receiver", daemon=True)
    thread.start()
    runner = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield WebhookReceiver(f"http://{HOST}:{port}/hook", deliveries, refused)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        sock.close()
        deliveries.close()


def new_secret() -> str:
    """A signing secret as the worker's start-up message says to make one."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="module")
def webhook_line(
    own_line: Callable[..., tuple[Line, Worker]],
) -> Iterator[tuple[Line, Worker, WebhookReceiver]]:
    """A number whose worker sends every call event, signed, to a receiver of the test's."""
    secret = new_secret()
    with receive_signed_webhooks(secret) as receiver:
        line, worker = own_line(
            handlers="store,log,webhook", webhook_urls=receiver.url, webhook_secret=secret
        )
        yield line, worker, receiver


async def test_signed_webhooks_of_a_real_call(
    live_stack: Stack, webhook_line: tuple[Line, Worker, WebhookReceiver], phone: Phone
) -> None:
    """An answered call the caller hangs up: every event from call.started to call.ended is
    delivered once, in order, with a valid Standard Webhooks signature and its own
    `webhook-id`; call.ended carries the outcome, as does the call log."""
    line, worker, hooks = webhook_line
    keys = caller_keys(line.number)
    async with phone.call("caller_hangs_up", **keys) as sipp:
        started = await wait_started(sipp, worker, keys)
        call_id = started["call_id"]
        async with join(live_stack, started["room"]) as guest:
            await guest.publish_tone()
            await sipp.meanwhile(worker.wait_for_event("call.answered", call_id=call_id))
            sipp.go()  # hang up
            result = await sipp.wait()
            assert result.returncode == 0, result.describe()
            ended = await worker.wait_for_event("call.ended", call_id=call_id)
        await live_stack.events.agent_left(started["room"])
    delivered_end = await hooks.deliveries.wait_for(
        where(**{"body.type": "call.ended", "body.call_id": call_id}), 30, "call.ended delivered"
    )

    assert hooks.refused == []
    deliveries = hooks.deliveries.all(where(**{"body.call_id": call_id}))
    logged = call_events(worker, call_id)
    assert [(d["body"]["seq"], d["body"]["type"]) for d in deliveries] == [
        (r["seq"], r["event"]) for r in logged
    ]
    assert [r["event"] for r in logged][:3] == [
        "call.started",
        "call.status_changed",
        "call.answered",
    ]
    ids = [d["headers"]["webhook-id"] for d in deliveries]
    assert len(set(ids)) == len(ids), ids
    assert all(d["headers"]["webhook-signature"].startswith("v1,") for d in deliveries)

    body = delivered_end["body"]
    assert body["seq"] == ended["seq"]
    data = body["data"]
    assert (data["outcome"], data["ended_by"], data["disconnect_reason"]) == (
        "completed",
        "caller",
        "CLIENT_INITIATED",
    )
    assert data["call"]["call_id"] == call_id
    assert data["call"]["providers"]["twilio_call_sid"] == keys["call_sid"]
    assert the_end(ended) == ("completed", "caller", "CLIENT_INITIATED")
    stored = worker.stored_call(call_id)
    assert stored is not None
    assert (stored["outcome"], stored["ended_by"]) == ("completed", "caller")

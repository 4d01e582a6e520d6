"""Webhooks against a real HTTP receiver on 127.0.0.1, from a real SQLite outbox."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from standardwebhooks import Webhook

from agent.database.engine import dispose_all
from agent.errors import ConfigError
from agent.logs import make_logger
from agent.settings import Settings, load_settings
from agent.standin.waiting import Changes
from agent.webhooks import SenderOptions, WebhookHandler, stop_senders
from tests.call_log_support import WatchedLog, busy_call, free_port, twilio_call
from tests.test_simulator_cli import simulate

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FAST = SenderOptions(poll_s=0.05, lease_s=1.0, base_delay_s=0.05, timeout_s=2.0)


@dataclass
class Receiver:
    """An HTTP endpoint that verifies every delivery and answers as told."""

    port: int
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    delay_s: float = 0.0
    gate: asyncio.Event | None = None
    """When set, each answer waits for it: a receiver as slow as a test needs."""
    received: list[dict] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _arrivals: Changes = field(default_factory=lambda: Changes("receiver"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks?token=t0ps3cret"

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.text()
        payload = Webhook(SECRET).verify(body, dict(request.headers))
        self.received.append({"id": request.headers["webhook-id"], **payload})
        self._arrivals.changed()
        await asyncio.sleep(self.delay_s)
        if self.gate is not None:
            await self.gate.wait()
        status, headers = self.answers.pop(0) if self.answers else (204, {})
        return web.Response(status=status, headers=headers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def until(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        """Return once `check()` holds, looked at on each arrival."""
        await self._arrivals.holds(check, timeout, "expected deliveries")

    def delivered(self) -> list[tuple[str, int]]:
        """(call, seq) of each distinct delivery, in the order first received."""
        seen: dict[str, tuple[str, int]] = {}
        for r in self.received:
            seen.setdefault(r["id"], (r["call_id"], r["seq"]))
        return list(seen.values())


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver(free_port())
    await r.start()
    yield r
    await r.stop()


@pytest.fixture(autouse=True)
def _senders() -> Iterator[None]:
    yield
    stop_senders()
    dispose_all()


def settings_for(tmp_path: Path, url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "db_url": f"sqlite:///{tmp_path}/calls.db",
        "spool_dir": str(tmp_path / "spool"),
        "webhook_urls": url,
        "webhook_secret": SECRET,
        "log_format": "json",
    }
    return load_settings(**(values | overrides))


async def send(
    settings: Settings,
    *calls: list,
    logs: io.StringIO | None = None,
    options: SenderOptions = FAST,
) -> None:
    handler = WebhookHandler(settings, make_logger(settings, logs or io.StringIO()), options)
    for events in calls:
        for event in events:
            await handler.handle(event)
    await handler.aclose()


def in_call_order(delivered: list[tuple[str, int]]) -> bool:
    last: dict[str, int] = {}
    for call, seq in delivered:
        if seq <= last.get(call, 0):
            return False
        last[call] = seq
    return True


async def test_signed_deliveries_carry_type_and_sequence(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Every event arrives signed (Standard Webhooks), with its type, call id and seq."""
    await send(settings_for(tmp_path, receiver.url), twilio_call(1))
    await receiver.until(lambda: len(receiver.received) == 5)
    assert [(r["type"], r["seq"]) for r in receiver.received] == [
        ("call.started", 1),
        ("call.status_changed", 2),
        ("call.answered", 3),
        ("call.status_changed", 4),
        ("call.ended", 5),
    ]
    ended = receiver.received[-1]
    assert ended["data"]["outcome"] == "completed"
    assert ended["data"]["call"]["from_number"] == "********0001"
    assert len({r["id"] for r in receiver.received}) == 5


async def test_twilio_fields_and_event_filter(tmp_path: Path, receiver: Receiver) -> None:
    """Only the configured types are sent; Twilio-style names ride along when asked."""
    settings = settings_for(
        tmp_path, receiver.url, webhook_events="call.ended", webhook_twilio_fields=True
    )
    await send(settings, twilio_call(2))
    await receiver.until(lambda: len(receiver.received) == 1)
    body = receiver.received[0]
    assert {k: body[k] for k in ("CallSid", "CallStatus", "Direction", "Duration")} == {
        "CallSid": f"CA{2:032x}",
        "CallStatus": "completed",
        "Direction": "inbound",
        "Duration": 34,
    }
    assert body["SequenceNumber"] == 4


async def test_receiver_down_then_up_gets_everything_in_call_order(tmp_path: Path) -> None:
    """Events queued while the endpoint is down all arrive later, each call in order."""
    receiver = Receiver(free_port())
    logs = WatchedLog()
    await send(
        settings_for(tmp_path, receiver.url),
        twilio_call(1),
        busy_call(2),
        twilio_call(3),
        logs=logs,
    )
    await logs.until("webhook delivery failed; retrying with backoff")
    await receiver.start()
    try:
        await receiver.until(lambda: len(receiver.delivered()) == 12)
    finally:
        await receiver.stop()
    assert in_call_order(receiver.delivered())
    assert "t0ps3cret" not in logs.getvalue()


async def test_endpoints_are_independent_of_a_slow_and_a_dead_one(tmp_path: Path) -> None:
    """One receiver answers nothing until the test says so, one URL refuses connections:
    the healthy receiver still gets every event at once, each exactly once, each call in
    order, and the dead URL is warned about once."""
    healthy, slow = Receiver(free_port()), Receiver(free_port(), gate=asyncio.Event())
    dead = f"http://127.0.0.1:{free_port()}/hook"
    await healthy.start()
    await slow.start()
    logs = WatchedLog()
    try:
        settings = settings_for(tmp_path, ",".join((slow.url, dead, healthy.url)))
        patient = dataclasses.replace(FAST, timeout_s=60.0)  # the slow one is never cut off
        await send(settings, twilio_call(1), logs=logs, options=patient)
        await slow.until(lambda: len(slow.received) == 1)  # held from here on
        await send(settings, busy_call(2), twilio_call(3), logs=logs, options=patient)
        await healthy.until(lambda: len(healthy.received) >= 12)
        assert not slow.gate.is_set() and len(slow.received) <= 3  # still held, one per call
        assert len(healthy.received) == len({r["id"] for r in healthy.received}) == 12
        assert in_call_order(healthy.delivered())
        slow.gate.set()
        await slow.until(lambda: len(slow.delivered()) == 12)
        assert in_call_order(slow.delivered())
    finally:
        await healthy.stop()
        await slow.stop()
    failed = [line for line in logs.getvalue().splitlines() if "delivery failed" in line]
    assert len(failed) == 1 and "/hook" in failed[0]


async def test_500_and_429_are_retried_400_is_not(tmp_path: Path, receiver: Receiver) -> None:
    """5xx and 429 (after its Retry-After) are retried with the same id; 400 is logged once."""
    receiver.answers = [(500, {}), (429, {"Retry-After": "1"}), (204, {}), (400, {})]
    logs = WatchedLog()
    started = time.monotonic()
    await send(settings_for(tmp_path, receiver.url), busy_call(4), logs=logs)
    await receiver.until(lambda: len(receiver.received) == 4)
    first, retry_500, retry_429, refused = receiver.received
    assert first["id"] == retry_500["id"] == retry_429["id"]
    assert time.monotonic() - started >= 1.0
    assert refused["type"] == "call.ended"
    await logs.until("webhook rejected by the endpoint; not retried")
    assert len(receiver.received) == 4
    rejected = [json.loads(line) for line in logs.getvalue().splitlines() if "rejected" in line]
    assert len(rejected) == 1
    assert rejected[0]["status"] == 400
    assert rejected[0]["url"] == f"http://127.0.0.1:{receiver.port}/hooks"


async def test_full_outbox_warns_and_names_the_setting(tmp_path: Path) -> None:
    """Past SIP_AGENT_WEBHOOK_OUTBOX_MAX waiting events, new ones are refused with a warning."""
    logs = io.StringIO()
    settings = settings_for(tmp_path, f"http://127.0.0.1:{free_port()}/", webhook_outbox_max=3)
    await send(settings, twilio_call(5), logs=logs)
    full = [json.loads(line) for line in logs.getvalue().splitlines() if "outbox full" in line]
    assert len(full) == 1
    assert "SIP_AGENT_WEBHOOK_OUTBOX_MAX" in full[0]["fix"]


WORKER = """
import asyncio, sys
from agent.logs import make_logger
from agent.settings import load_settings
from agent.webhooks import SenderOptions, WebhookHandler, start_sender
from tests.call_log_support import twilio_call

async def main() -> None:
    db, url, secret, calls = sys.argv[1:]
    settings = load_settings(db_url=db, webhook_urls=url, webhook_secret=secret)
    options = SenderOptions(poll_s=0.05, lease_s=1.0, base_delay_s=0.05)
    handler = WebhookHandler(settings, options=options)
    for n in range(int(calls)):
        for event in twilio_call(n):
            await handler.handle(event)
    start_sender(db, secret, make_logger(settings), options)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def worker(settings: Settings, url: str, calls: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, settings.db_url, url, SECRET, str(calls)],
        cwd=Path(__file__).parent.parent,
        stdout=subprocess.DEVNULL,
    )


async def test_worker_killed_mid_delivery_resumes_after_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    """A worker killed while a delivery is in flight: its restart sends the rest, none lost."""
    receiver.delay_s = 0.2
    settings = settings_for(tmp_path, receiver.url)
    first = worker(settings, receiver.url, calls=3)
    await receiver.until(lambda: len(receiver.received) >= 4, timeout=30)
    first.send_signal(signal.SIGKILL)
    first.wait()
    restarted = worker(settings, receiver.url, calls=0)
    try:
        await receiver.until(lambda: len(receiver.delivered()) == 15, timeout=30)
    finally:
        restarted.kill()
        restarted.wait()
    delivered = receiver.delivered()
    assert sorted(delivered) == sorted({(f"SCL_{n:05d}", s) for n in range(3) for s in range(1, 6)})
    assert in_call_order(delivered)
    ids_per_event = {(r["call_id"], r["seq"]): set() for r in receiver.received}
    for r in receiver.received:
        ids_per_event[(r["call_id"], r["seq"])].add(r["id"])
    assert all(len(ids) == 1 for ids in ids_per_event.values())


async def simulate_with_webhooks(
    tmp_path: Path, url: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """The real `simulate` command (in a thread: this loop serves the receiver)."""
    env = {
        "SIP_AGENT_HANDLERS": "log,webhook",
        "SIP_AGENT_WEBHOOK_URLS": url,
        "SIP_AGENT_WEBHOOK_SECRET": SECRET,
        **env,
    }
    return await asyncio.to_thread(
        simulate, tmp_path, "twilio-inbound-answered", "--speed", "0", **env
    )


async def test_simulate_returns_once_its_webhooks_were_delivered(
    tmp_path: Path, receiver: Receiver
) -> None:
    """`python -m agent simulate` with the webhook handler: the receiver has the whole
    call when the command returns, not just what went out before the play ended."""
    receiver.delay_s = 0.2  # each delivery takes a while: the play ends long before
    result = await simulate_with_webhooks(tmp_path, receiver.url)
    assert result.returncode == 0, result.stderr
    assert [r["type"] for r in receiver.received] == [
        "call.started",
        "call.status_changed",
        "call.answered",
        "call.status_changed",
        "call.ended",
    ]
    assert "still queued" not in result.stdout + result.stderr


async def test_simulate_waits_for_a_dead_receiver_only_so_long(tmp_path: Path) -> None:
    """A receiver that is not there: `simulate` returns after a few handler timeouts, with
    one warning naming what stays queued and where."""
    started = time.monotonic()
    dead = f"http://127.0.0.1:{free_port()}/hooks?token=t0ps3cret"
    result = await simulate_with_webhooks(tmp_path, dead, SIP_AGENT_HANDLER_TIMEOUT_S="1")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    queued = [line for line in output.splitlines() if "webhooks still queued at exit" in line]
    assert len(queued) == 1
    assert "queued_shared=5" in queued[0] and "sip-agent.db" in queued[0]
    assert time.monotonic() - started < 30
    assert "t0ps3cret" not in output


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"webhook_urls": ()}, "missing setting SIP_AGENT_WEBHOOK_URLS: the webhook handler"),
        ({"webhook_secret": ""}, "missing setting SIP_AGENT_WEBHOOK_SECRET: generate one"),
        ({"webhook_secret": "not base64!"}, "invalid setting SIP_AGENT_WEBHOOK_SECRET: expected"),
        # Checked once, where the settings are read: the handler never sees such a URL.
        ({"webhook_urls": "ftp://host/hook"}, "URL 1 (host): does not start with http://"),
    ],
)
def test_a_webhook_setting_that_cannot_work_is_one_line(
    tmp_path: Path, overrides: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        WebhookHandler(settings_for(tmp_path, "http://127.0.0.1:9/hooks", **overrides))
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert "base64!" not in str(caught.value)

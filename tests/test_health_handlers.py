"""The store and webhook handlers' health checks, on real databases and a real worker."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from live_worker import get, health_endpoint
from sqlalchemy import text
from test_store import postgres_url  # noqa: F401 (a fixture)
from test_webhooks import FAST, SECRET

from agent import health, server
from agent.assembly import worker_config
from agent.database import probe
from agent.database.engine import dispose_all, engine_for
from agent.errors import ConfigError
from agent.logs import make_logger
from agent.settings import Settings, load_settings
from agent.store import StoreHandler
from agent.webhooks import WebhookHandler, sender, stop_senders
from tests.call_log_support import free_port, reset_postgres, twilio_call

# Nothing listens there (the webhook endpoint, or a database that is down).
CLOSED = free_port()
HOOK_URL = f"http://127.0.0.1:{CLOSED}/hooks/T0KEN?token=t0ps3cret"


@pytest.fixture(autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    stop_senders()
    dispose_all()


def settings_for(db_url: str, **overrides: object) -> Settings:
    return load_settings(
        db_url=db_url,
        webhook_urls=HOOK_URL,
        webhook_secret=SECRET,
        log_format="json",
        **overrides,
    )


def checked(*handlers: object) -> health.Health:
    """A Health with the handlers' checks, as `create_server` registers them."""
    checks = health.Health()
    health.add_handler_checks(checks, handlers)
    return checks


async def queue_events(settings: Settings, events: list) -> None:
    """A job's webhook handler queues `events` (its sender cannot reach the endpoint)."""
    job = WebhookHandler(settings, make_logger(settings, io.StringIO()), FAST)
    for event in events:
        await job.handle(event)
    await job.aclose()


def sender_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "sip-agent-webhooks"]


async def test_store_unhealthy_while_its_sqlite_directory_is_gone(tmp_path: Path) -> None:
    """GET / is 503 naming the store and SIP_AGENT_DB_URL while the database's directory
    is missing (a pooled connection would still answer), and 200 once it is back."""
    folder = tmp_path / "data"
    folder.mkdir()
    url = f"sqlite:///{folder}/calls.db"
    async with health_endpoint(checked(StoreHandler(settings_for(url)))) as base:
        assert await get(base + "/") == (200, "OK")
        folder.rename(tmp_path / "moved")
        assert await get(base + "/") == (
            503,
            f"store: SIP_AGENT_DB_URL={url} unusable: directory {folder} does not exist",
        )
        (tmp_path / "moved").rename(folder)
        assert await get(base + "/") == (200, "OK")


async def test_store_on_postgres_healthy_and_down_without_password(postgres_url: str) -> None:  # noqa: F811
    """Real PostgreSQL answers; a closed port is a problem naming the URL, not its password."""
    reset_postgres(postgres_url)
    assert await checked(StoreHandler(settings_for(postgres_url))).problems() == {}
    down = f"postgresql://sip:hunter2@127.0.0.1:{CLOSED}/calls"
    problems = await checked(StoreHandler(settings_for(down))).problems()
    assert list(problems) == ["store"]
    shown = f"SIP_AGENT_DB_URL=postgresql://sip:***@127.0.0.1:{CLOSED}/calls unreachable: "
    assert problems["store"].startswith(shown)
    assert "hunter2" not in problems["store"]


async def test_outbox_full_is_unhealthy_until_it_drains(tmp_path: Path) -> None:
    """GET / is 503 naming SIP_AGENT_WEBHOOK_OUTBOX_MAX while the outbox holds its limit."""
    settings = settings_for(f"sqlite:///{tmp_path}/calls.db", webhook_outbox_max=3)
    async with health_endpoint(checked(WebhookHandler(settings))) as base:
        assert await get(base + "/") == (200, "OK")
        calls = twilio_call(1, start=datetime.now(UTC))
        await queue_events(settings, calls)  # 5 events: 3 queued, 2 refused
        assert await get(base + "/") == (
            503,
            "webhook: outbox full: 3 events waiting, limit SIP_AGENT_WEBHOOK_OUTBOX_MAX=3",
        )
        with engine_for(settings.db_url).begin() as db:  # one event delivered
            db.execute(
                text("DELETE FROM webhook_outbox WHERE id = (SELECT min(id) FROM webhook_outbox)")
            )
        assert await get(base + "/") == (200, "OK")


async def test_outbox_stale_names_the_host_only(tmp_path: Path) -> None:
    """An event waiting for hours is a problem naming the endpoint's host, not its path,
    query string or the signing secret."""
    settings = settings_for(f"sqlite:///{tmp_path}/calls.db")
    await queue_events(settings, twilio_call(2, start=datetime.now(UTC) - timedelta(hours=7))[:1])
    problem = (await checked(WebhookHandler(settings)).problems())["webhook"]
    assert problem == (
        f"outbox stale: oldest undelivered event waiting 7.0h (over 6h) for 127.0.0.1:{CLOSED}"
    )


async def test_the_health_instance_starts_no_sender(tmp_path: Path) -> None:
    """Built and checked for health on a working database, the webhook handler leaves
    nothing running: the sender belongs to the first event (or the worker's start-up drain)."""
    stop_senders()
    handler = WebhookHandler(settings_for(f"sqlite:///{tmp_path}/calls.db"))
    assert await checked(handler).problems() == {}
    assert sender_threads() == []
    assert sender._senders == {}


async def test_start_up_with_the_database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """`create_server` with store and webhook on a database that is down starts; the
    health endpoint reports both handlers instead."""
    checks = health.Health()
    monkeypatch.setattr(server, "HEALTH", checks)
    down = f"postgresql://sip:hunter2@127.0.0.1:{CLOSED}/calls"
    settings = settings_for(
        down,
        handlers="store,webhook",
        executor="process",
        # create_server checks what `start` checks: LiveKit's settings are needed.
        livekit_url="ws://127.0.0.1:9",
        livekit_api_key="devkey",
        livekit_api_secret="test-secret-0123456789abcdef0123456789",
    )
    server.create_server(settings)
    problems = await checks.problems()
    assert sorted(problems) == ["store", "webhook"]
    for problem in problems.values():
        assert problem.startswith("SIP_AGENT_DB_URL=postgresql://sip:***@")
    assert sender_threads() == []


async def test_a_database_that_hangs_holds_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts and never answers: each probe gets a problem in time naming
    the database, and later probes wait on the same thread instead of starting more."""
    monkeypatch.setattr(probe, "ANSWER_WITHIN_S", 0.2)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        store = StoreHandler(settings_for(f"postgresql://sip@127.0.0.1:{port}/calls"))
        threads = threading.active_count()
        for _ in range(3):
            assert await store.health_check() == (
                f"SIP_AGENT_DB_URL=postgresql://sip@127.0.0.1:{port}/calls no answer within 0.2s"
            )
        assert threading.active_count() <= threads + 1


def test_create_server_checks_what_start_checks() -> None:
    """A server for your own script fails the way `start` does: one line naming the setting."""
    settings = settings_for("sqlite:///calls.db", handlers="store,webhook")
    with pytest.raises(ConfigError, match=r"^missing setting LIVEKIT_URL"):
        server.create_server(settings)


def test_a_database_url_no_driver_takes_stops_start_up() -> None:
    """`mysql://` is refused at start, in one line, not at the first call."""
    with pytest.raises(ConfigError, match=r"^invalid setting SIP_AGENT_DB_URL: mysql"):
        worker_config(settings_for("mysql://u:p@db/calls", handlers="store,webhook"))

"""Webhooks keep going out from local disk while the shared database is down."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from agent.database.engine import dispose_all
from agent.database.migrate import migrated_engine
from agent.logs import make_logger
from agent.settings import Settings, load_settings
from agent.testing.polling import eventually
from agent.webhooks import WebhookHandler, drain_at_start, stop_senders
from agent.webhooks.local import local_outbox_path, local_outbox_url, shared_database
from agent.webhooks.outbox import Outbox
from agent.webhooks.pending import PENDING
from agent.webhooks.schema import OUTBOX
from tests.call_log_support import WatchedLog, free_port, reset_postgres, twilio_call
from tests.test_spool import Proxy
from tests.test_store import postgres_url  # noqa: F401 (fixture)
from tests.test_webhooks import (
    FAST,
    SECRET,
    Receiver,
    _senders,  # noqa: F401 (fixture)
    in_call_order,
    receiver,  # noqa: F401 (fixture)
)


@dataclass
class Outage:
    """The shared database and a way to take it down and bring it back."""

    db_url: str
    cut: Callable[[], Awaitable[None]]
    restore: Callable[[], Awaitable[None]]


@pytest.fixture(params=["postgresql", "sqlite"])
async def outage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Outage]:
    if request.param == "postgresql":  # PostgreSQL through a TCP proxy the test cuts
        direct = request.getfixturevalue("postgres_url")
        reset_postgres(direct)
        proxy = Proxy(make_url(direct).port or 5432)
        await proxy.start()
        yield Outage(via(direct, proxy), proxy.stop, proxy.start)
        with contextlib.suppress(Exception):
            await proxy.stop()
        return
    # SQLite: another connection holds the file's write lock (a stuck writer, a backup).
    path = tmp_path / "calls.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    async def cut() -> None:
        holder.execute("BEGIN IMMEDIATE")

    async def restore() -> None:
        holder.execute("ROLLBACK")

    yield Outage(f"sqlite:///{path}", cut, restore)
    with contextlib.suppress(sqlite3.Error):
        holder.execute("ROLLBACK")
    holder.close()


def via(url: str, proxy: Proxy) -> str:
    return make_url(url).set(port=proxy.port).render_as_string(hide_password=False)


def settings_for(db_url: str, tmp_path: Path, receiver_url: str) -> Settings:
    return load_settings(
        db_url=db_url,
        spool_dir=str(tmp_path / "spool"),
        webhook_urls=receiver_url,
        webhook_secret=SECRET,
        log_format="json",
    )


async def test_deliveries_keep_flowing_while_the_shared_database_is_down(
    outage: Outage,
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811
) -> None:
    """10 calls, 5 events each; the database goes down once every call's first event was
    delivered and stays down past the end of the calls: the receiver gets all 50 events,
    each once and each call in order, before it is back; once back, nothing is sent again
    and the next call goes out through the shared outbox."""
    settings = settings_for(outage.db_url, tmp_path, receiver.url)
    logs = WatchedLog()
    handler = WebhookHandler(settings, make_logger(settings, logs), FAST)
    calls = [twilio_call(n) for n in range(10)]
    for events in calls:
        await handler.handle(events[0])
    await receiver.until(lambda: len(receiver.delivered()) == 10)
    # Seen delivered by this process's sender: no call has a row in flight in the database.
    await eventually(lambda: not PENDING.of_calls({outage.db_url}, keys(calls)), 10, "settled")

    await outage.cut()
    for events in calls:
        for event in events[1:]:
            await handler.handle(event)
    written = sum(len(events) for events in calls)
    await receiver.until(lambda: len(receiver.delivered()) == written, timeout=30)
    received_in_outage = len(receiver.delivered())
    print(f"outage: events written {written}, webhooks received while down {received_in_outage}")
    assert shared_database(outage.db_url).down  # still down: all of it came from local disk
    expected = {(f"SCL_{n:05d}", seq) for n in range(10) for seq in range(1, 6)}
    assert sorted(receiver.delivered()) == sorted(expected)
    assert len(receiver.received) == written  # each once
    assert in_call_order(receiver.delivered())
    assert handler.writer.pending == 0  # nothing waits in the spool for the database
    assert local_outbox_path(settings).exists()

    await outage.restore()
    await eventually(lambda: not shared_database(outage.db_url).down, 10, "database back")
    after = twilio_call(10)
    receiver.gate = asyncio.Event()  # held at its first delivery: where are the rows?
    for event in after:
        await handler.handle(event)
    await receiver.until(lambda: len(receiver.received) == written + 1)
    assert PENDING.of_calls({outage.db_url}, keys([after])) == {outage.db_url: len(after)}
    receiver.gate.set()
    await receiver.until(lambda: len(receiver.delivered()) == written + len(after))
    assert len(receiver.received) == written + len(after)  # nothing sent twice
    await handler.aclose()
    assert "t0ps3cret" not in logs.getvalue()


async def test_a_restart_delivers_what_the_local_outbox_holds(
    outage: Outage, tmp_path: Path
) -> None:
    """Database and receiver both down: the calls wait in the local outbox. The process
    ends; the next one (the worker's start) delivers them, in order, before the database
    is back."""
    later = Receiver(free_port())
    settings = settings_for(outage.db_url, tmp_path, later.url)
    await outage.cut()
    handler = WebhookHandler(settings, make_logger(settings, WatchedLog()), FAST)
    calls = [twilio_call(n) for n in range(3)]
    for events in calls:
        for event in events:
            await handler.handle(event)
    await handler.aclose()
    assert handler.writer.pending == 0 and local_outbox_path(settings).exists()
    stop_senders()  # the process ends; the local outbox stays on disk
    dispose_all()

    await later.start()
    try:
        drain_at_start(settings)
        await later.until(lambda: len(later.delivered()) == 15, timeout=30)
    finally:
        await later.stop()
    assert sorted(later.delivered()) == sorted(
        {(f"SCL_{n:05d}", seq) for n in range(3) for seq in range(1, 6)}
    )
    assert in_call_order(later.delivered())
    await outage.restore()


def keys(calls: list[list]) -> set[str]:
    return {events[0].call.key for events in calls}


@pytest.mark.parametrize("outage", ["sqlite"], indirect=True)
async def test_the_local_outbox_is_bounded_by_the_same_setting(
    outage: Outage, tmp_path: Path
) -> None:
    """Receiver and database down: past SIP_AGENT_WEBHOOK_OUTBOX_MAX events the local
    outbox refuses more, with one warning naming the setting."""
    dead = f"http://127.0.0.1:{free_port()}/hooks"
    settings = settings_for(outage.db_url, tmp_path, dead).model_copy(
        update={"webhook_outbox_max": 3}
    )
    logs = WatchedLog()
    await outage.cut()
    handler = WebhookHandler(settings, make_logger(settings, logs), FAST)
    for event in twilio_call(1):
        await handler.handle(event)
    await handler.aclose()
    full = [line for line in logs.getvalue().splitlines() if "outbox full" in line]
    assert len(full) == 1 and "SIP_AGENT_WEBHOOK_OUTBOX_MAX" in full[0]
    assert handler.writer.pending == 0  # refused, not spooled for the shared database
    local = Outbox(migrated_engine(local_outbox_url(settings), OUTBOX))
    assert local.depth() == 3
    await outage.restore()

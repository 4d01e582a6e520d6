"""Nothing lost when the database is down longer than the calls, or refuses a value."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from agent import tracker
from agent.database.engine import dispose_all
from agent.logs import make_logger
from agent.store import CallQuery, CallStore, StoreHandler
from agent.store.handler import spooled_writer
from tests.call_log_support import T0, free_port, reset_postgres, twilio_call
from tests.test_store import (
    postgres_url,  # noqa: F401 (fixture)
    settings_for,
)


class Proxy:
    """A TCP proxy to PostgreSQL that the test cuts and restores: a real outage."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        if self._server is None or not self._server.is_serving():  # cut meanwhile
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self._open |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._open:
            writer.transport.abort()
        self._open.clear()
        await self._server.wait_closed()


@pytest.fixture
async def proxied(postgres_url: str) -> AsyncIterator[tuple[str, Proxy]]:  # noqa: F811
    reset_postgres(postgres_url)
    url = make_url(postgres_url)
    proxy = Proxy(url.port or 5432)
    await proxy.start()
    yield url.set(port=proxy.port).render_as_string(hide_password=False), proxy
    with contextlib.suppress(Exception):
        await proxy.stop()
    dispose_all()


async def test_postgres_down_longer_than_the_calls_loses_nothing(
    proxied: tuple[str, Proxy], tmp_path: Path
) -> None:
    """10 calls, 50 events; PostgreSQL cut after the first 2 and back only after every call
    ended and the worker restarted: all 50 events and 10 outcomes end up in the call log."""
    url, proxy = proxied
    settings = settings_for(url, spool_dir=str(tmp_path / "spool"))
    logs = io.StringIO()
    calls = [twilio_call(n) for n in range(10)]
    events = [e for call in calls for e in call]
    handler = StoreHandler(settings, make_logger(settings, logs))
    for event in events[:2]:
        await handler.handle(event)
    await proxy.stop()
    for event in events[2:]:
        await asyncio.wait_for(handler.handle(event), settings.handler_timeout_s)
    await handler.aclose()
    assert "events kept on disk" in logs.getvalue()
    dispose_all()  # the worker process ends; its spool stays on disk

    await proxy.start()
    restarted = spooled_writer(settings, make_logger(settings, io.StringIO()))
    assert restarted.pending == 48
    assert await restarted.flush()
    written, outcomes = await asyncio.to_thread(read_back, url)  # the proxy runs on this loop
    print(f"outage: events written {written} of {len(events)}, outcomes {len(outcomes)} of 10")
    assert written == len(events) == 50
    assert outcomes == ["completed"] * 10
    assert restarted.pending == 0


def read_back(url: str) -> tuple[int, list[str]]:
    store = CallStore.open(url)
    written = sum(len(store.timeline(f"SCL_{n:05d}")) for n in range(10))
    return written, [c["outcome"] for c in store.calls(CallQuery(limit=None))]


ODD = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.sampled_from("\x00a\U0001f600\\'\""), min_size=1, max_size=200),
    st.just("x" * 129),
    st.just("\x00"),
)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(status=ODD, call_id=ODD, custom=ODD)
def test_any_attribute_value_keeps_the_calls_log(
    backend: str,
    status: str,
    call_id: str,
    custom: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """Whatever LiveKit writes in sip.callStatus, sip.callID or a custom attribute, the
    odd call and a healthy one beside it both get their row and whole timeline."""
    if backend == "sqlite":  # one file per example: the fixture's tmp_path is shared
        url = f"sqlite:///{tmp_path}/calls-{uuid.uuid4().hex}.db"
    else:
        url = request.getfixturevalue("postgres_url")
        reset_postgres(url)
    attrs = {"sip.callID": call_id or "SCL_empty", "sip.callStatus": status, "note": custom}
    state, odd = tracker.start(attrs, room="r", identity="sip_x", participant_sid="PA", now=T0)
    state, more = tracker.end(state, reason="CLIENT_INITIATED", now=T0)
    odd += more
    healthy = twilio_call(1)
    settings_ = settings_for(url, spool_dir=str(tmp_path / "spool"))
    logs = io.StringIO()

    async def run() -> None:
        handler = StoreHandler(settings_, make_logger(settings_, logs))
        for a, b in zip(odd, healthy, strict=False):
            await handler.handle(a)
            await handler.handle(b)
        for event in healthy[len(odd) :]:
            await handler.handle(event)
        await handler.aclose()

    asyncio.run(run())
    store = CallStore(CallStore.open(url).engine)
    rows = {c["call_id"]: c for c in store.calls(CallQuery(limit=None))}
    assert len(store.timeline("SCL_00001")) == 5
    odd_rows = [c for k, c in rows.items() if k != "SCL_00001"]
    assert len(odd_rows) == 1
    assert len(store.timeline(odd_rows[0]["call_id"])) == len(odd)
    assert "refused a write" not in logs.getvalue()
    dispose_all()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schedule=st.lists(st.booleans(), min_size=15, max_size=15))
def test_any_order_of_outages_loses_nothing_and_keeps_each_calls_order(
    schedule: list[bool], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Three calls' 15 events, interleaved, PostgreSQL cut and restored before any of them
    as hypothesis chooses: once it is back, every event is in the log once, each call's
    timeline is 1..5 in order and each call has its outcome."""
    url = request.getfixturevalue("postgres_url")
    reset_postgres(url)
    calls = [twilio_call(n) for n in range(3)]
    events = [call[i] for i in range(5) for call in calls]  # one event of each call in turn
    spool = tmp_path / f"spool-{uuid.uuid4().hex}"

    async def run() -> None:
        proxy = Proxy(make_url(url).port or 5432)
        await proxy.start()
        proxied_url = make_url(url).set(port=proxy.port).render_as_string(hide_password=False)
        settings_ = settings_for(proxied_url, spool_dir=str(spool))
        handler = StoreHandler(settings_, make_logger(settings_, io.StringIO()))
        up = True
        for event, want_up in zip(events, schedule, strict=True):
            if want_up != up:
                await (proxy.start() if want_up else proxy.stop())
                up = want_up
            await asyncio.wait_for(handler.handle(event), settings_.handler_timeout_s)
        if not up:
            await proxy.start()
        await handler.aclose()
        assert await spooled_writer(settings_, make_logger(settings_, io.StringIO())).flush()
        await proxy.stop()

    asyncio.run(run())
    dispose_all()
    store = CallStore.open(url)
    for call in calls:
        timeline = store.timeline(call[0].call_key)
        assert [e["seq"] for e in timeline] == [1, 2, 3, 4, 5]
        row = store.find(call[0].call_key)
        assert row is not None and row["outcome"] == "completed" and row["last_seq"] == 5
    dispose_all()

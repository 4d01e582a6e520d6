"""The call log against a real SQLite file and the real local PostgreSQL."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, Table, create_engine, inspect, text

from agent.database.engine import database_url, dispose_all
from agent.database.migrate import migrated_engine
from agent.logs import make_logger
from agent.settings import Settings, load_settings
from agent.store import CallQuery, CallStore, StoreHandler
from agent.webhooks.outbox import Outbox
from agent.webhooks.schema import OUTBOX
from tests.call_log_support import (
    PG_URL_ENV,
    T0,
    busy_call,
    reset_postgres,
    throwaway_postgres,
    twilio_call,
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """CI names its scratch database; elsewhere a throwaway cluster is started."""
    if url := os.environ.get(PG_URL_ENV):
        yield url
        return
    if os.environ.get("CI"):
        pytest.fail(f"{PG_URL_ENV} is not set: .ci/run must start PostgreSQL and export it")
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/calls.db"
    else:
        url: str = request.getfixturevalue("postgres_url")
        reset_postgres(url)
        yield url
    dispose_all()


def settings_for(db_url: str, **overrides: object) -> Settings:
    overrides.setdefault("spool_dir", tempfile.mkdtemp(prefix="sip-agent-spool-"))
    return load_settings(db_url=db_url, log_format="json", **overrides)


async def record(settings: Settings, *calls: list, logs: io.StringIO | None = None) -> None:
    handler = StoreHandler(settings, make_logger(settings, logs or io.StringIO()))
    for events in calls:
        for event in events:
            await handler.handle(event)
    await handler.aclose()


async def test_two_calls_under_one_livekit_id_are_two_calls(db_url: str) -> None:
    """LiveKit's call id repeats (no `sip.callID`: the identity stands in, the same for a
    caller's next call): each call keeps its own row, timeline and outcome, by its key."""
    first, second = twilio_call(7), twilio_call(7, start=T0 + timedelta(minutes=5))
    await record(settings_for(db_url), first, second)
    store = CallStore.open(db_url)
    rows = list(store.calls(CallQuery()))
    assert [r["call_id"] for r in rows] == ["SCL_00007", "SCL_00007"]
    assert {r["call_key"] for r in rows} == {first[0].call_key, second[0].call_key}
    for events in (first, second):
        timeline = store.timeline(events[0].call_key)
        assert [e["seq"] for e in timeline] == [1, 2, 3, 4, 5]
        assert store.find(events[0].call_key)["outcome"] == "completed"  # type: ignore[index]
    latest = store.find("SCL_00007")
    assert latest is not None and latest["call_key"] == second[0].call_key


async def test_a_twilio_call_is_one_record_with_its_timeline(db_url: str) -> None:
    """A call's ids, masked numbers, headers, timeline, outcome and durations are stored."""
    await record(settings_for(db_url), twilio_call(1))
    store = CallStore.open(db_url)
    call = store.find("SCL_00001")
    assert call is not None
    assert call["twilio_call_sid"] == f"CA{1:032x}"
    assert (call["from_number"], call["to_number"]) == ("********0001", "********0002")
    assert call["identity"] == "sip_********0001"
    assert json.loads(call["headers"]) == {"x-customer-id": "cust-1"}
    assert json.loads(call["custom"]) == {"tier": "gold"}
    assert (call["direction"], call["trunk_id"], call["rule_id"]) == (
        "inbound",
        "ST_twilio",
        "SDR_main",
    )
    assert (call["outcome"], call["ended_by"], call["disconnect_reason"]) == (
        "completed",
        "caller",
        "CLIENT_INITIATED",
    )
    assert (call["ringing_s"], call["talk_s"], call["duration_s"]) == (4.0, 30.0, 34.0)
    assert (call["answered_at"] - call["started_at"]).total_seconds() == 4.0
    timeline = store.timeline("SCL_00001")
    assert [(e["seq"], e["type"]) for e in timeline] == [
        (1, "call.started"),
        (2, "call.status_changed"),
        (3, "call.answered"),
        (4, "call.status_changed"),
        (5, "call.ended"),
    ]
    assert "+15550000001" not in json.dumps([e["data"] for e in timeline])


async def test_full_numbers_and_sip_status_code_when_known(db_url: str) -> None:
    """`SIP_AGENT_PHONE_NUMBERS=full` keeps numbers; a refused call keeps its SIP code."""
    await record(settings_for(db_url, phone_numbers="full"), busy_call(7))
    call = CallStore.open(db_url).find("SCL_out00007")
    assert call is not None
    assert call["to_number"] == "+49300000007"
    assert (call["outcome"], call["sip_status_code"], call["answered_at"]) == ("busy", 486, None)


async def test_found_by_twilio_call_sid_and_listed_by_filters(db_url: str) -> None:
    """Calls are found by CallSid and filtered by outcome, number, trunk and limit."""
    await record(settings_for(db_url), *(twilio_call(n) for n in range(3)), busy_call(9))
    store = CallStore.open(db_url)
    found = store.find(f"CA{2:032x}")
    assert found is not None
    assert found["call_id"] == "SCL_00002"
    assert [c["call_id"] for c in store.calls(CallQuery(outcome="busy"))] == ["SCL_out00009"]
    assert [c["call_id"] for c in store.calls(CallQuery(number="+15550000001"))] == ["SCL_00001"]
    assert len(list(store.calls(CallQuery(trunk="ST_twilio")))) == 3
    assert len(list(store.calls(CallQuery(limit=2)))) == 2


async def test_replayed_events_change_nothing(db_url: str) -> None:
    """An event written twice (a retry) leaves one timeline row and the latest state."""
    events = twilio_call(3)
    await record(settings_for(db_url), events, events[:2])
    store = CallStore.open(db_url)
    call = store.find("SCL_00003")
    assert call is not None
    assert (call["last_seq"], call["status"], call["outcome"]) == (5, "hangup", "completed")
    assert len(store.timeline("SCL_00003")) == 5


def _write_calls(db_url: str, first: int, count: int) -> None:
    import asyncio

    asyncio.run(
        record(settings_for(db_url), *(twilio_call(n) for n in range(first, first + count)))
    )


def test_several_processes_write_at_once(db_url: str) -> None:
    """Four job processes write 25 calls each at the same time: all 100 are stored."""
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_calls, args=(db_url, i * 100, 25)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = CallStore.open(db_url)
    calls = list(store.calls(CallQuery(limit=None)))
    assert len(calls) == 100
    assert {c["outcome"] for c in calls} == {"completed"}
    assert all(len(store.timeline(c["call_id"])) == 5 for c in calls)


LEGACY_MIGRATIONS = Path(__file__).parent / "legacy_migrations"


def legacy_database(engine: Engine, revision: str) -> None:
    """The database as the single migration chain made it before the split."""
    config = Config()
    config.set_main_option("script_location", str(LEGACY_MIGRATIONS))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


@pytest.mark.parametrize("revision", ["0001", "0002"])
async def test_a_database_of_the_single_chain_upgrades_keeping_everything(
    db_url: str, revision: str
) -> None:
    """A call log (and outbox) made by the old single chain: the new code starts on it, keeps
    its calls and queued webhooks, and records each part's version in its own table."""
    engine = create_engine(database_url(db_url))
    legacy_database(engine, revision)
    old = MetaData()
    with engine.begin() as db:  # a call as the old code wrote it: keyed by LiveKit's id
        db.execute(
            Table("calls", old, autoload_with=engine).insert(),
            {"call_id": "SCL_00004", "providers": "{}", "direction": "inbound", "room": "r",
             "identity": "sip_4", "headers": "{}", "custom": "{}", "started_at": T0,
             "last_seq": 1},
        )  # fmt: skip
        db.execute(
            Table("call_events", old, autoload_with=engine).insert(),
            {"call_id": "SCL_00004", "seq": 1, "type": "call.started", "at": T0, "data": "{}"},
        )
    await record(settings_for(db_url), twilio_call(5))
    if revision == "0002":  # rows queued as the old chain's outbox held them
        legacy_outbox = Table("webhook_outbox", MetaData(), autoload_with=engine)
        with engine.begin() as db:
            for seq in (1, 2):
                row = outbox_row(6, seq)
                row["call_id"] = row.pop("call_key")
                db.execute(legacy_outbox.insert(), row | {"attempts": 0, "rejected": 0})
    dispose_all()

    await record(settings_for(db_url), twilio_call(6))  # the new code: both chains at head
    outbox = Outbox(migrated_engine(db_url, OUTBOX))
    outbox.add([outbox_row(6, 3)], limit=10)
    store = CallStore.open(db_url)
    assert sorted(c["call_id"] for c in store.calls(CallQuery())) == [
        "SCL_00004",
        "SCL_00005",
        "SCL_00006",
    ]
    assert len(store.timeline("SCL_00005")) == 5
    before = store.find("SCL_00004")
    assert before is not None and before["call_key"] == "SCL_00004"  # its id became its key
    assert [e["type"] for e in store.timeline("SCL_00004")] == ["call.started"]
    (url,) = outbox.urls()
    assert [d.seq for d in outbox.due(10, url)] == [1 if revision == "0002" else 3]
    assert outbox.depth() == (3 if revision == "0002" else 1)
    tables = set(inspect(engine).get_table_names())
    assert {"sip_agent_call_log_version", "sip_agent_webhook_outbox_version"} <= tables
    with engine.connect() as db:
        versions = [
            db.execute(text(f"SELECT version_num FROM {table}")).scalar_one()
            for table in ("sip_agent_call_log_version", "sip_agent_webhook_outbox_version")
        ]
    assert versions == ["call_log_0004", "webhook_outbox_0004"]
    engine.dispose()


def outbox_row(call: int, seq: int) -> dict[str, object]:
    return {
        "webhook_id": f"msg_{call}_{seq}",
        "url": "http://127.0.0.1:9/hook",
        "call_key": f"SCL_{call:05d}",
        "seq": seq,
        "event_type": "call.updated",
        "body": "{}",
        "created_at": T0,
        "next_attempt_at": T0,
    }


async def test_database_down_then_back_loses_nothing(tmp_path: Path) -> None:
    """While the database cannot be opened events wait, with one warning; then all land."""
    folder = tmp_path / "not-yet"
    settings = settings_for(f"sqlite:///{folder}/calls.db")
    logs = io.StringIO()
    handler = StoreHandler(settings, make_logger(settings, logs))
    events = twilio_call(8)
    for event in events[:3]:
        await handler.handle(event)
    warnings = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert [w["event"] for w in warnings] == [
        "call log write failed; events kept on disk and retried"
    ]
    assert "SIP_AGENT_DB_URL" in warnings[0]["fix"]
    folder.mkdir()
    for event in events[3:]:
        await handler.handle(event)
    await handler.aclose()
    assert len(CallStore.open(settings.db_url).timeline("SCL_00008")) == 5
    assert "writes resumed" in logs.getvalue()

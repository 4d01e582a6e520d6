"""`calls list` readable in a terminal (and `--json`), `calls show` with the call's webhook
deliveries, `calls tail` following calls as they are written."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.database.engine import dispose_all
from agent.testing.polling import eventually
from agent.webhooks.deliveries import call_deliveries
from tests.call_log_support import busy_call, free_port, twilio_call
from tests.test_store import record
from tests.test_store import settings_for as store_settings
from tests.test_webhooks import (  # noqa: F401 (fixtures)
    Receiver,
    _senders,
    receiver,
    send,
    settings_for,
)


def calls(*args: str) -> str:
    result = CliRunner().invoke(app, ["calls", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/calls.db"
    asyncio.run(record(store_settings(url), twilio_call(1), busy_call(3)))
    dispose_all()
    return url


def test_list_reads_in_a_terminal(db: str) -> None:
    """Headings say the zone, durations read as minutes and seconds, a long CallSid is cut."""
    heading, *rows = calls("list", "--db", db).splitlines()
    assert heading.startswith("started (UTC)") and "duration" in heading
    completed = next(r for r in rows if "SCL_00001" in r)
    assert completed.startswith("2026-03-01 09:00:00")
    assert completed.rstrip().endswith("34s")
    assert "CA00000000…0001" in completed and f"CA{1:032x}" not in completed
    assert "+15550000001" in completed or "****" in completed
    busy = next(r for r in rows if "SCL_out00003" in r)
    assert busy.rstrip().endswith("3.0s") and "busy" in busy


def test_list_json_has_every_value_whole(db: str) -> None:
    lines = [json.loads(line) for line in calls("list", "--json", "--db", db).splitlines()]
    assert {c["twilio_call_sid"] for c in lines} == {f"CA{1:032x}", None}
    assert {c["duration_s"] for c in lines} == {34.0, 3.0}
    assert all(datetime.fromisoformat(c["started_at"]).tzinfo for c in lines)


async def test_show_lists_each_webhook_its_state_and_answer(
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811 (fixture)
) -> None:
    """A retried then delivered event, an event the endpoint refused, and an endpoint that
    never answers: per endpoint, without its credentials or query."""
    dead = f"http://user:pa55word@127.0.0.1:{free_port()}/dead?token=t0ps3cret"
    settings = settings_for(tmp_path, f"{receiver.url},{dead}")
    receiver.answers = [(500, {}), (204, {}), (400, {})]
    events = busy_call(5)
    await record(store_settings(settings.db_url), events)
    await send(settings, events)
    call_key = json.loads(calls("list", "--json", "--db", settings.db_url))["call_key"]

    def settled() -> bool:
        states = [d.state for d in call_deliveries(settings.db_url, call_key)]
        return {"failed", "waiting", "dead"} <= set(states)

    await eventually(settled, 10, "the live endpoint's answers and a failure on the dead one")
    out = calls("show", call_key, "--db", settings.db_url)
    hooks = out.split("webhooks:\n")[1].splitlines()
    live = hooks.index(f"  http://127.0.0.1:{receiver.port}/hooks")
    assert hooks[live + 1].split()[:3] == ["#1", "call.started", "delivered"]
    assert "2 tries" in hooks[live + 1] and "HTTP 204" in hooks[live + 1]
    assert hooks[live + 2].split()[:3] == ["#2", "call.ended", "dead"]
    assert "HTTP 400" in hooks[live + 2]
    dead_at = hooks.index(f"  http://127.0.0.1:{dead.split(':')[3].split('/')[0]}/dead")
    assert [h.split()[:3] for h in hooks[dead_at + 1 : dead_at + 3]] == [
        ["#1", "call.started", "failed"],
        ["#2", "call.ended", "waiting"],  # a call's events go in order: #1 first
    ]
    assert "ClientConnectorError" in hooks[dead_at + 1]
    assert "pa55word" not in out and "t0ps3cret" not in out


def test_show_without_webhooks_says_so(db: str) -> None:
    assert calls("show", "SCL_00001", "--db", db).endswith("webhooks: none queued or sent\n")


def test_tail_prints_calls_as_they_start_and_end_and_stops_on_sigterm(db: str) -> None:
    """Calls written after `calls tail` started are printed as they start and end (calls
    already over are not); SIGTERM ends it with exit status 0."""
    with subprocess.Popen(
        [sys.executable, "-m", "agent", "calls", "tail", "--db", db],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as tail:
        assert tail.stderr is not None and tail.stdout is not None
        assert "following the call log" in tail.stderr.readline().decode()
        asyncio.run(record(store_settings(db), twilio_call(8, start=datetime.now(UTC))))
        lines = [tail.stdout.readline().decode() for _ in range(3)]
        assert [line.split()[2] for line in lines] == ["started", "answered", "ended"]
        assert all("SCL_00008" in line for line in lines)
        assert "completed 34s" in lines[2] and "inbound" in lines[0]
        tail.send_signal(signal.SIGTERM)
        assert tail.wait(10) == 0
        assert "SCL_00001" not in tail.stdout.read().decode()


@contextmanager
def sigint_as_from_a_terminal() -> Iterator[None]:
    """Start children with SIGINT as a terminal's commands get it: a test run started in the
    background (`.ci/run &`) ignores SIGINT, and a child inherits SIG_IGN across exec."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def test_tail_json_is_one_object_per_step_and_ctrl_c_ends_it(db: str) -> None:
    """`--json`: each step as `{"event", "call"}` with every value whole; Ctrl-C ends it
    with exit status 0."""
    with sigint_as_from_a_terminal():
        started = subprocess.Popen(
            [sys.executable, "-m", "agent", "calls", "tail", "--json", "--for", "30", "--db", db],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    with started as tail:
        assert tail.stderr is not None and tail.stdout is not None
        assert "following the call log" in tail.stderr.readline().decode()
        asyncio.run(record(store_settings(db), busy_call(9, start=datetime.now(UTC))))
        steps = [json.loads(tail.stdout.readline()) for _ in range(2)]
        assert [s["event"] for s in steps] == ["started", "ended"]
        assert steps[1]["call"]["call_id"] == "SCL_out00009"
        assert steps[1]["call"]["outcome"] == "busy"
        tail.send_signal(signal.SIGINT)
        assert tail.wait(10) == 0

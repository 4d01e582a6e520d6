"""The call log keeps each call's health: `calls show` prints it, `calls list` filters
unhealthy calls, on SQLite and PostgreSQL (migration call_log_0004)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.call_health import AgentJoined, AgentState, AgentStateChanged, Answered, measure
from agent.cli import app
from agent.database.engine import dispose_all
from agent.events import CallEnded, CallEvent
from agent.store import CallQuery, CallStore
from tests.call_log_support import T0, twilio_call
from tests.test_store import db_url, postgres_url, record, settings_for  # noqa: F401 (fixtures)


def with_health(events: list[CallEvent], *states: tuple[float, AgentState]) -> list[CallEvent]:
    """The call's `call.ended` with the health its agent's states give (answered at 4 s,
    ended at 34 s, as `twilio_call` plays it)."""
    at = T0 + timedelta(seconds=4)
    facts = [AgentJoined(T0, "agent", "support-agent"), Answered(at)]
    facts += [AgentStateChanged(at + timedelta(seconds=s), "agent", v) for s, v in states]
    ended = events[-1]
    assert isinstance(ended, CallEnded)
    health = measure(T0, facts, T0 + timedelta(seconds=34))
    return [*events[:-1], dataclasses.replace(ended, health=health)]


SPEAKS = [(0.5, AgentState.SPEAKING), (3, AgentState.LISTENING), (4, AgentState.THINKING),
          (4.5, AgentState.SPEAKING), (29, AgentState.LISTENING)]  # fmt: skip
SILENT = [(0, AgentState.LISTENING)]
SLOW = [(0.5, AgentState.SPEAKING), (3, AgentState.LISTENING), (4, AgentState.THINKING),
        (8, AgentState.SPEAKING), (29, AgentState.LISTENING)]  # fmt: skip


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/calls.db"
    calls = [with_health(twilio_call(1), *SPEAKS), with_health(twilio_call(2), *SILENT),
             with_health(twilio_call(3), *SLOW), twilio_call(4)]  # fmt: skip
    asyncio.run(record(settings_for(url), *calls))
    dispose_all()
    monkeypatch.setenv("SIP_AGENT_DB_URL", url)
    return url


def listed(*args: str) -> set[str]:
    result = CliRunner().invoke(app, ["calls", "list", *args])
    assert result.exit_code == 0, result.output
    return {word for word in result.output.split() if word.startswith("SCL_")}


def test_calls_list_filters_unhealthy_calls(db: str) -> None:
    assert listed() == {"SCL_00001", "SCL_00002", "SCL_00003", "SCL_00004"}
    assert listed("--unhealthy") == {"SCL_00002", "SCL_00003"}
    assert listed("--agent-missing") == {"SCL_00002"}
    assert listed("--silence-over", "20") == {"SCL_00002"}
    assert listed("--p95-over", "3") == {"SCL_00003"}
    assert listed("--p95-over", "0") == {"SCL_00001", "SCL_00003"}


def test_calls_list_refuses_a_negative_threshold(db: str) -> None:
    result = CliRunner().invoke(app, ["calls", "list", "--silence-over", "-1"])
    assert result.exit_code == 2
    assert "--silence-over -1.0: give a number of seconds, 0 or more" in result.output


def test_calls_show_prints_the_health_block(db: str) -> None:
    result = CliRunner().invoke(app, ["calls", "show", "SCL_00003"])
    assert result.exit_code == 0, result.output
    health = result.output.split("health:\n")[1].split("timeline:")[0]
    assert "  agent_name:" in health and "support-agent" in health
    assert "  responses_s:                        [4.0]" in health
    assert "  agent_missing:                      False" in health
    ended = result.output.split("webhooks:")[0].splitlines()[-1]
    assert "call.ended" in ended and "health" not in ended


async def test_the_health_block_is_stored_whole(db_url: str) -> None:  # noqa: F811
    settings = settings_for(db_url)
    await record(settings, with_health(twilio_call(9), *SILENT))
    store = CallStore.open(db_url)
    (row,) = store.calls(CallQuery(agent_missing=True))
    assert row["call_id"] == "SCL_00009" and row["unhealthy"] is True
    assert row["longest_silence_s"] == 30.0 and row["response_p95_s"] is None
    assert json.loads(row["health"])["silences"] == [{"start_s": 4.0, "length_s": 30.0}]
    (ended,) = [e for e in store.timeline("SCL_00009") if e["type"] == "call.ended"]
    assert json.loads(ended["data"])["health"]["agent_missing"] is True

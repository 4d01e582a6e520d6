"""`python -m agent calls`: the call log as a support engineer reads it."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.database.engine import dispose_all
from tests.call_log_support import busy_call, twilio_call
from tests.test_store import record, settings_for


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A call log filled by simulated calls, named by SIP_AGENT_DB_URL only (no LiveKit)."""
    url = f"sqlite:///{tmp_path}/calls.db"
    asyncio.run(record(settings_for(url), twilio_call(1), twilio_call(2), busy_call(3)))
    dispose_all()
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SIP_AGENT_DB_URL", url)
    return url


def calls(*args: str) -> str:
    result = CliRunner().invoke(app, ["calls", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_show_by_twilio_call_sid_prints_the_timeline(db: str) -> None:
    """`calls show CA…` prints the record and every step with its time since the start."""
    out = calls("show", f"CA{2:032x}")
    assert "call_id:                SCL_00002" in out
    assert "outcome:                completed" in out
    assert "ended_by:               caller" in out
    timeline = out.split("timeline:\n")[1].splitlines()
    assert [line.split("#")[1].split()[:2] for line in timeline] == [
        ["1", "call.started"],
        ["2", "call.status_changed"],
        ["3", "call.answered"],
        ["4", "call.status_changed"],
        ["5", "call.ended"],
    ]
    assert "ringing -> active" in timeline[1]
    assert "+  4.000s" in timeline[2]
    assert "disconnect_reason=CLIENT_INITIATED" in timeline[4]


def test_show_unknown_id_exits_1(db: str) -> None:
    """An id that is not in the log says so and exits 1."""
    result = CliRunner().invoke(app, ["calls", "show", "CAnope"])
    assert result.exit_code == 1
    assert "no call 'CAnope'" in result.output


def test_list_filters_by_outcome_and_number(db: str) -> None:
    """`calls list` filters by outcome and by a full number matching a masked one."""
    busy = calls("list", "--outcome", "busy").splitlines()
    assert len(busy) == 2
    assert "SCL_out00003" in busy[1]
    by_number = calls("list", "--number", "+15550000001", "--since", "3650d").splitlines()
    assert [line.split()[2] for line in by_number[1:]] == ["SCL_00001"]


def test_export_csv_and_jsonl(db: str) -> None:
    """`calls export` writes every call as CSV rows or JSON lines."""
    rows = list(csv.DictReader(io.StringIO(calls("export", "--format", "csv"))))
    assert {r["call_id"] for r in rows} == {"SCL_00001", "SCL_00002", "SCL_out00003"}
    lines = [json.loads(line) for line in calls("export", "--format", "jsonl").splitlines()]
    assert {line["outcome"] for line in lines} == {"completed", "busy"}

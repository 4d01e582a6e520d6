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
from tests.test_store import postgres_url, record, settings_for  # noqa: F401 (fixture)


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
    timeline = out.split("timeline:\n")[1].split("webhooks:")[0].splitlines()
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
    assert [line.split()[3] for line in by_number[1:]] == ["SCL_00001"]


def test_export_csv_and_jsonl(db: str) -> None:
    """`calls export` writes every call as CSV rows or JSON lines."""
    rows = list(csv.DictReader(io.StringIO(calls("export", "--format", "csv"))))
    assert {r["call_id"] for r in rows} == {"SCL_00001", "SCL_00002", "SCL_out00003"}
    lines = [json.loads(line) for line in calls("export", "--format", "jsonl").splitlines()]
    assert {line["outcome"] for line in lines} == {"completed", "busy"}


def test_list_on_a_fresh_install_and_with_no_match_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: str
) -> None:
    """An empty call log (every fresh install) and a filter that matches nothing: one line,
    exit 0."""
    assert calls("list", "--outcome", "failed") == "no calls match these filters\n"
    monkeypatch.setenv("SIP_AGENT_DB_URL", f"sqlite:///{tmp_path}/fresh.db")
    assert calls("list") == "no calls in the call log\n"


@pytest.mark.parametrize("limit", ["-1", "0"])
def test_a_limit_below_one_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, limit: str
) -> None:
    """`--limit -1` on PostgreSQL (which refuses a negative LIMIT) never reaches it."""
    monkeypatch.setenv("SIP_AGENT_DB_URL", request.getfixturevalue("postgres_url"))
    result = CliRunner().invoke(app, ["calls", "list", "--limit", limit])
    assert result.exit_code == 2
    assert result.output == f"sip-agent: --limit {limit}: give a number of calls, 1 or more\n"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://u:p@db/calls", "mysql is not supported"),
        ("::not a url::", "Could not parse"),
        ("postgresql://u:p@db:99999/calls", "port 99999 is not 1-65535"),
        ("postgresql://u:p@db:port/calls", "invalid literal"),
        ("sqlite:///", "no database file"),
        ("sqlite:////nonexistent-dir/calls.db", "directory /nonexistent-dir does not exist"),
        ("sqlite:////proc/self/calls.db", "directory /proc/self is not writable"),
    ],
)
def test_a_database_url_that_cannot_work_stops_simulate_in_one_line(
    monkeypatch: pytest.MonkeyPatch, url: str, says: str
) -> None:
    """Start-up (here `simulate`, which goes through the same assembly) refuses it, naming
    SIP_AGENT_DB_URL, never the password."""
    monkeypatch.setenv("SIP_AGENT_DB_URL", url)
    monkeypatch.setenv("SIP_AGENT_HANDLERS", "log,store")
    result = CliRunner().invoke(app, ["simulate", "twilio-inbound-answered"])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1, lines
    assert "SIP_AGENT_DB_URL" in lines[0]
    assert says in lines[0]
    assert ":p@" not in lines[0]


def test_a_db_url_that_cannot_work_is_one_line_naming_where_it_came_from(tmp_path: Path) -> None:
    """`calls` checks the URL as `start` does: the setting or `--db`, named in one line."""
    bad = "mysql://user@localhost/calls"
    result = CliRunner().invoke(app, ["calls", "list", "--db", bad])
    assert result.exit_code == 2
    assert result.output.startswith("sip-agent: invalid --db") and "\n" not in result.output[:-1]
    missing = f"sqlite:///{tmp_path}/nowhere/calls.db"
    result = CliRunner().invoke(app, ["calls", "list"], env={"SIP_AGENT_DB_URL": missing})
    assert result.exit_code == 2
    assert "SIP_AGENT_DB_URL" in result.output and "does not exist" in result.output

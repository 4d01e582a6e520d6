"""Dead letters: refused or past their retry budget, kept, listed, resent and dropped with
`python -m agent webhooks`, against a real receiver and a real SQLite or PostgreSQL outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from agent.cli import app
from agent.database.engine import dispose_all
from agent.testing.polling import eventually
from agent.webhooks import stop_senders
from tests.call_log_support import twilio_call
from tests.test_store import db_url, postgres_url  # noqa: F401 (fixtures)
from tests.test_webhooks import Receiver, receiver, send, settings_for  # noqa: F401 (fixture)

GIVE_UP = (500, {"Retry-After": "5"})
"""A wait longer than the test's retry budget: the delivery gives up at once."""


@pytest.fixture
def db(db_url: str) -> Iterator[str]:  # noqa: F811
    """The outbox's database; its senders stop before it is reset."""
    yield db_url
    stop_senders()
    dispose_all()


def webhooks(db: str, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["webhooks", *args, "--db", db])
    assert result.exit_code == code, result.output
    return result.output


def listed(db: str, *args: str) -> list[list[str]]:
    """`webhooks list` rows (after the header) as columns."""
    lines = webhooks(db, "list", *args).splitlines()
    return [line.split() for line in lines[1:]] if lines != ["no dead letters"] else []


def dead_letters_gauge() -> float | None:
    return REGISTRY.get_sample_value("sip_agent_webhook_dead_letters")


async def test_dead_letters_are_kept_listed_and_resent(
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811
    db: str,
) -> None:
    """A 400 and a delivery past its budget are dead letters; the call's later events still
    go out; once the receiver is fixed `retry --call` resends both (same ids) and they
    leave the list."""
    settings = settings_for(tmp_path, receiver.url, db_url=db, webhook_retry_for_s=2)
    receiver.answers = [(400, {}), GIVE_UP]
    await send(settings, twilio_call(1))
    await receiver.until(lambda: len(receiver.received) == 5)
    assert receiver.delivered() == [("SCL_00001", seq) for seq in (1, 2, 3, 4, 5)]

    rows = listed(db)
    assert [(r[3], r[4], r[7], r[8]) for r in rows] == [
        ("refused", "1", "1", "call.started"),
        ("gave_up", "1", "2", "call.status_changed"),
    ]
    assert {r[5] for r in rows} == {f"http://127.0.0.1:{receiver.port}/hooks"}
    assert "t0ps3cret" not in webhooks(db, "list")
    call_key = rows[0][6]
    assert listed(db, "--call", call_key) == rows
    assert listed(db, "--call", "SCL_00001") == rows
    assert listed(db, "--call", "SCL_00002") == []
    assert listed(db, "--url", "http://127.0.0.1:1/") == []
    assert listed(db, "--since", "1h") == []  # the events are from T0
    shown = webhooks(db, "show", rows[1][0])
    assert "HTTP 500" in shown and '"seq":2' in shown
    await eventually(lambda: dead_letters_gauge() == 2, 5, "the dead letters gauge at 2")

    first_ids = [r["id"] for r in receiver.received[:2]]
    assert "2 dead letter(s) due again" in webhooks(db, "retry", "--call", "SCL_00001")
    await receiver.until(lambda: len(receiver.received) == 7)
    assert [r["id"] for r in receiver.received[5:]] == first_ids
    assert listed(db) == []
    await eventually(lambda: dead_letters_gauge() == 0, 5, "the dead letters gauge at 0")


async def test_drop_older_than_and_one_line_errors(
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811
    db: str,
) -> None:
    """`drop --older-than` removes only old dead letters; a bad id or age is one line."""
    settings = settings_for(tmp_path, receiver.url, db_url=db)
    receiver.answers = [(400, {}), (204, {}), (204, {}), (204, {}), (204, {}), (400, {})]
    await send(settings, twilio_call(1))
    await receiver.until(lambda: len(receiver.received) == 5)
    await send(settings, twilio_call(2, start=datetime.now(UTC)))
    await receiver.until(lambda: len(receiver.received) == 10)
    assert [r[4] for r in listed(db)] == ["1", "1"]  # attempts, both refused

    assert "1 dead letter(s) dropped" in webhooks(db, "drop", "--older-than", "7d")
    assert [r[8] for r in listed(db)] == ["call.started"]
    assert listed(db, "--call", "SCL_00002")

    for args, code, message in [
        (("show", "999"), 1, "sip-agent: no dead letter 999 in the webhook outbox"),
        (("retry", "999"), 1, "sip-agent: no dead letter 999 in the webhook outbox"),
        (("list", "--since", "yesterday"), 2, "sip-agent: --since 'yesterday': use an age"),
        (("drop", "--older-than", "7"), 2, "sip-agent: --older-than '7': use an age"),
        (("drop",), 2, "sip-agent: drop what? give an id, --call, --url or --older-than"),
    ]:
        out = webhooks(db, *args, code=code)
        assert out.startswith(message) and len(out.strip().splitlines()) == 1, out

"""A call played on the real SDK reaches the call log and a webhook receiver, through the
worker's real entrypoint with `SIP_AGENT_HANDLERS=log,store,webhook`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.database.engine import dispose_all
from agent.standin import FakeLiveKit
from agent.store import CallStore
from agent.webhooks import stop_senders
from tests.test_scenarios_sdk import API_SECRET, Call
from tests.test_webhooks import Receiver, receiver, settings_for

__all__ = ["receiver"]  # the fixture, used by name below


@pytest.fixture(autouse=True)
def _stop_background_work() -> Iterator[None]:
    yield
    stop_senders()
    dispose_all()


async def test_twilio_call_is_logged_stored_and_delivered(
    tmp_path: Path, receiver: Receiver
) -> None:
    settings = settings_for(tmp_path, receiver.url, handlers=("log", "store", "webhook"))
    wanted = {"db_url", "webhook_urls", "webhook_secret", "handlers"}
    with FakeLiveKit(api_secret=API_SECRET) as livekit:
        call = Call(livekit, "call-room", **{k: getattr(settings, k) for k in wanted})
        await call.start()
        assert await call.twilio_call_caller_hangs_up() == "all calls ended"

    store = CallStore.open(settings.db_url)
    record = store.find("CA7f3e")
    assert record is not None
    assert (record["call_id"], record["outcome"], record["ended_by"]) == (
        "SCL_in1",
        "completed",
        "caller",
    )
    timeline = [row["type"] for row in store.timeline("SCL_in1")]
    assert timeline == [
        "call.started",
        "call.status_changed",
        "call.answered",
        "call.status_changed",
        "call.ended",
    ]
    await receiver.until(lambda: len(receiver.delivered()) == 5)
    assert receiver.delivered() == [("SCL_in1", seq) for seq in range(1, 6)]
    assert [r["type"] for r in receiver.received][-1] == "call.ended"

"""Delivery of events to handlers: order, isolation, timeouts, draining."""

import asyncio
import io
import json
from datetime import UTC, datetime

from agent import tracker
from agent.events import CallEvent
from agent.handlers import FunctionHandler
from agent.logs import make_logger
from agent.pipeline import Pipeline
from agent.settings import load_settings
from agent.standin import Recorder

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def call_events(call_id: str, n_dtmf: int = 3) -> list[CallEvent]:
    attrs = {"sip.callID": call_id, "sip.ruleID": "SDR"}
    state, events = tracker.start(attrs, room="r", identity=call_id, participant_sid="PA", now=T0)
    for digit in "123456789"[:n_dtmf]:
        state, new = tracker.dtmf(state, digit=digit, code=int(digit), now=T0)
        events += new
    state, new = tracker.end(state, reason="CLIENT_INITIATED", now=T0)
    return events + new


def logger_and_lines():
    stream = io.StringIO()
    logger = make_logger(load_settings(log_format="json"), stream)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    return logger, lines


async def test_each_handler_sees_each_call_in_order() -> None:
    logger, _ = logger_and_lines()
    a, b = Recorder("a"), Recorder("b", delay=0.001)
    pipeline = Pipeline([a, b], timeout=1, logger=logger)
    pipeline.submit(call_events("c1"))
    pipeline.submit(call_events("c2"))
    await pipeline.aclose()
    for rec in (a, b):
        for call in ("c1", "c2"):
            assert [seq for cid, seq in rec.seen if cid == call] == [1, 2, 3, 4, 5]
        assert rec.closed


async def test_raising_handler_is_logged_and_others_go_on() -> None:
    logger, lines = logger_and_lines()

    async def broken(event: CallEvent) -> None:
        raise RuntimeError("boom")

    after = Recorder()
    pipeline = Pipeline([FunctionHandler(broken, "broken"), after], timeout=1, logger=logger)
    pipeline.submit(call_events("c1", n_dtmf=0))
    await pipeline.aclose()
    assert after.seen == [("c1", 1), ("c1", 2)]
    errors = [line for line in lines() if line["event"] == "handler failed"]
    assert len(errors) == 2
    assert errors[0]["handler"] == "broken" and errors[0]["call_id"] == "c1"
    assert errors[0]["level"] == "error" and "boom" in errors[0]["error"]


async def test_hanging_handler_is_cut_off_and_delivery_goes_on() -> None:
    logger, lines = logger_and_lines()

    async def hangs(event: CallEvent) -> None:
        await asyncio.Event().wait()

    after = Recorder()
    pipeline = Pipeline([FunctionHandler(hangs, "hangs"), after], timeout=0.1, logger=logger)
    pipeline.submit(call_events("c1", n_dtmf=0))
    await asyncio.wait_for(pipeline.aclose(), timeout=5)
    assert after.seen == [("c1", 1), ("c1", 2)]
    timeouts = [line for line in lines() if line["event"] == "handler timed out"]
    assert [t["seq"] for t in timeouts] == [1, 2]
    assert timeouts[0]["handler"] == "hangs" and timeouts[0]["level"] == "warning"


async def test_handler_swallowing_cancellation_is_still_cut_off() -> None:
    logger, lines = logger_and_lines()

    async def stubborn(event: CallEvent) -> None:
        try:  # noqa: SIM105 - swallowing the cancel is the point of this test
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass

    after = Recorder()
    pipeline = Pipeline([FunctionHandler(stubborn, "stubborn"), after], timeout=0.1, logger=logger)
    pipeline.submit(call_events("c1", n_dtmf=0))
    await asyncio.wait_for(pipeline.aclose(), timeout=5)
    assert after.seen == [("c1", 1), ("c1", 2)]
    assert sum(line["event"] == "handler timed out" for line in lines()) == 2


async def test_handler_ignoring_every_cancel_is_left_behind_and_the_call_goes_on() -> None:
    """A handler that swallows each cancel would hold its call forever: after a second
    timeout the call goes on without it, with one warning naming it."""
    logger, lines = logger_and_lines()
    release = asyncio.Event()

    async def deaf(event: CallEvent) -> None:
        while not release.is_set():
            try:  # noqa: SIM105 - ignoring the cancel is the point of this test
                await release.wait()
            except asyncio.CancelledError:
                pass

    after = Recorder()
    pipeline = Pipeline([FunctionHandler(deaf, "deaf"), after], timeout=0.1, logger=logger)
    pipeline.submit(call_events("c1", n_dtmf=0))
    await asyncio.wait_for(pipeline.aclose(), timeout=5)
    assert after.seen == [("c1", 1), ("c1", 2)]
    left = [line for line in lines() if line["event"] == "handler ignored its cancel, left behind"]
    assert [(line["handler"], line["seq"], line["level"]) for line in left] == [
        ("deaf", 1, "warning"),
        ("deaf", 2, "warning"),
    ]
    release.set()


async def test_slow_call_does_not_hold_up_another_call() -> None:
    """A handler stuck on one call's event leaves other calls flowing."""
    logger, _ = logger_and_lines()
    release = asyncio.Event()
    seen: list[str] = []

    async def slow_for_c1(event: CallEvent) -> None:
        if event.call_id == "c1":
            await release.wait()
        seen.append(event.call_id)

    pipeline = Pipeline([FunctionHandler(slow_for_c1)], timeout=5, logger=logger)
    pipeline.submit(call_events("c1", n_dtmf=0))
    pipeline.submit(call_events("c2", n_dtmf=0))
    for _ in range(20):
        await asyncio.sleep(0)
    assert seen == ["c2", "c2"]
    release.set()
    await pipeline.aclose()
    assert seen.count("c1") == 2


async def test_drain_waits_for_everything_submitted() -> None:
    logger, _ = logger_and_lines()
    rec = Recorder(delay=0.01)
    pipeline = Pipeline([rec], timeout=1, logger=logger)
    pipeline.submit(call_events("c1"))
    assert rec.seen == []
    await pipeline.drain()
    assert len(rec.seen) == 5

"""A SIP call from our phone, followed through the worker's log: the steps most live tests
share."""

from __future__ import annotations

from contextlib import AsyncExitStack

from .records import Record
from .room import join
from .sipp import Phone, SippCall, SippResult
from .stack import Stack
from .worker import Worker


async def wait_started(
    sipp: SippCall, worker: Worker, keys: dict[str, str], timeout: float = 30.0
) -> Record:
    """The worker's call.started of the call `keys` placed (found by its Twilio CallSid);
    fails at once if sipp exits first."""
    return await sipp.meanwhile(
        worker.wait_for_event("call.started", timeout, twilio_call_sid=keys["call_sid"])
    )


async def canceled_call(
    live_stack: Stack, phone: Phone, worker: Worker, keys: dict[str, str]
) -> tuple[Record, Record]:
    """A call its caller cancels once the worker has started it: (call.started, call.ended),
    once the job has left the room."""
    async with phone.call("caller_cancels", **keys) as sipp:
        started = await wait_started(sipp, worker, keys)
        sipp.go()
        result = await sipp.wait()
        assert result.returncode == 0, result.describe()
        ended = await worker.wait_for_event("call.ended", call_id=started["call_id"])
        await live_stack.events.agent_left(started["room"])
    return started, ended


async def until_the_phone_is_done(
    live_stack: Stack,
    phone: Phone,
    worker: Worker,
    scenario: str,
    keys: dict[str, str],
    *,
    answer: bool,
) -> tuple[Record, SippResult, Record]:
    """Place the call, answer it if `answer` (a guest publishes a tone), and let the phone's
    scenario run to its end: (call.started, what sipp saw, call.ended), once the job has left."""
    async with phone.call(scenario, **keys) as sipp:
        started = await wait_started(sipp, worker, keys)
        async with AsyncExitStack() as guests:
            if answer:
                guest = await guests.enter_async_context(join(live_stack, started["room"]))
                await guest.publish_tone()
            result = await sipp.wait()
            assert result.returncode == 0, result.describe()
            ended = await worker.wait_for_event("call.ended", call_id=started["call_id"])
        await live_stack.events.agent_left(started["room"])
    return started, result, ended

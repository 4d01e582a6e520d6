"""How many calls LiveKit sends one worker: every call up to SIP_AGENT_MAX_CALLS.

livekit-server 1.13.5 offers a job only to workers whose reported load is under its
`agents.target_load` (0.7 unless configured): a worker reporting `calls / max_calls` got no
call once it carried 70% of `SIP_AGENT_MAX_CALLS`, and the calls over that rang in rooms no
worker watched (79 of a 100-call burst, benchmarks/capacity_live.py). The worker's load is
scaled to the server's target load (agent/capacity.py) and sent as each call starts.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack

import pytest

from .calls import wait_started
from .provision import Line
from .sipp import Phone, caller_keys
from .stack import Stack
from .worker import Worker

pytestmark = pytest.mark.live

MAX_CALLS = 4
"""Three calls of four: 0.75 of the worker's capacity, over the server's 0.7."""


async def test_every_call_up_to_max_calls_is_sent_to_the_worker(
    live_stack: Stack, own_line: Callable[..., tuple[Line, Worker]], phone: Phone
) -> None:
    line, worker = own_line(max_calls=str(MAX_CALLS))
    async with AsyncExitStack() as ringing:
        held = []
        for _ in range(MAX_CALLS):  # one at a time: each call's load is reported before the next
            keys = caller_keys(line.number)
            sipp = await ringing.enter_async_context(phone.call("caller_cancels", **keys))
            held.append((sipp, await wait_started(sipp, worker, keys)))
        assert len({started["room"] for _, started in held}) == MAX_CALLS  # a room, a job each
        for sipp, _ in held:
            sipp.go()
        for sipp, started in held:
            result = await sipp.wait()
            assert result.returncode == 0, result.describe()
            ended = await worker.wait_for_event("call.ended", call_id=started["call_id"])
            assert (ended["outcome"], ended["ended_by"]) == ("canceled", "caller")
            await live_stack.events.agent_left(started["room"])

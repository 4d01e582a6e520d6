"""Every job executor (`SIP_AGENT_EXECUTOR`) tracks a real call from start to end.

`loop` (the default) runs under every other live test; `thread` and `process` here. The
process executor pickles the entrypoint and its configuration for each job process: a
configuration holding its built handlers could not be sent ("Can't pickle local object"),
and every job failed to start while the worker looked healthy (agent/assembly.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .calls import canceled_call
from .provision import Line
from .records import where
from .sipp import Phone, caller_keys
from .stack import Stack
from .worker import Worker

pytestmark = pytest.mark.live


@pytest.mark.parametrize("executor", ["thread", "process"])
async def test_a_call_is_tracked_whatever_the_executor(
    live_stack: Stack,
    own_line: Callable[..., tuple[Line, Worker]],
    phone: Phone,
    executor: str,
) -> None:
    line, worker = own_line(executor=executor)  # handlers store,log: with a fleet side
    _, ended = await canceled_call(live_stack, phone, worker, caller_keys(line.number))
    assert (ended["outcome"], ended["ended_by"]) == ("canceled", "caller")
    assert worker.records.all(where(message="error initializing process")) == []

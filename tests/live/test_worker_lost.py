"""A worker killed (SIGKILL) under a live, answered call: a live worker of the same agent name,
on the same call log and webhook outbox, notices it within a lease, dispatches itself to the
room and resumes the call; the caller's hangup then ends it. The call log and a webhook
receiver show one call, started once, ended once, by the caller.

livekit-server 1.13.5 does not dispatch a killed worker's job again on its own: without the
fleet the call stayed `active` forever (issue 10).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent.store import CallStore

from .provision import Line
from .records import Record
from .repeat import runs
from .room import join
from .sipp import Phone, caller_keys
from .stack import Stack
from .test_inbound_more import WebhookReceiver, new_secret, receive_signed_webhooks
from .worker import Worker, start_worker

pytestmark = pytest.mark.live
HEARTBEAT_S, LEASE_S = "0.5", "3"
"""Short, so a run takes seconds: a worker is lost 3 s after its last beat."""


@dataclass
class Fleet:
    line: Line
    settings: dict[str, str]
    receiver: WebhookReceiver
    workdir: Path
    workers: list[Worker]
    started: ExitStack = field(default_factory=ExitStack)

    def two_alive(self, stack: Stack) -> list[Worker]:
        """Two live workers of the line's agent name (a new one for each killed)."""
        self.workers = [w for w in self.workers if w.proc.poll() is None]
        while len(self.workers) < 2:
            folder = self.workdir / f"worker-{len(list(self.workdir.iterdir()))}"
            manager = start_worker(stack, folder, name=self.line.agent_name, **self.settings)
            self.workers.append(self.started.enter_context(manager))
        return self.workers


@pytest.fixture(scope="module")
def fleet(
    own_line: Callable[..., tuple[Line, Worker]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    secret = new_secret()
    workdir = tmp_path_factory.mktemp("fleet")
    with receive_signed_webhooks(secret) as receiver:
        settings = {
            "handlers": "store,log,webhook",
            "db_url": f"sqlite:///{workdir / 'calls.db'}",
            "webhook_urls": receiver.url,
            "webhook_secret": secret,
            "fleet_heartbeat_s": HEARTBEAT_S,
            "fleet_lease_s": LEASE_S,
        }
        line, first = own_line(**settings)
        with ExitStack() as started:
            yield Fleet(line, settings, receiver, workdir, [first], started)


async def first_event(workers: list[Worker], event: str, timeout: float, **fields: str) -> int:
    """Which worker logs `event` first (index into `workers`)."""
    waits = [asyncio.create_task(w.wait_for_event(event, timeout, **fields)) for w in workers]
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    winner = done.pop()
    winner.result()
    return waits.index(winner)


@pytest.mark.parametrize("run", runs())
async def test_a_killed_workers_call_goes_on_in_a_live_worker(
    run: int, live_stack: Stack, fleet: Fleet, phone: Phone
) -> None:
    workers = fleet.two_alive(live_stack)
    keys = caller_keys(fleet.line.number)
    async with phone.call("caller_hangs_up", **keys) as sipp:
        sid = keys["call_sid"]
        held = await sipp.meanwhile(first_event(workers, "call.started", 60, twilio_call_sid=sid))
        holder, survivor = workers[held], workers[1 - held]
        started = holder.events(twilio_call_sid=sid)[0]
        call_id, call_key, room = started["call_id"], started["call_key"], started["room"]
        async with join(live_stack, room) as guest:
            await guest.publish_tone()
            await sipp.meanwhile(holder.wait_for_event("call.answered", 60, call_id=call_id))
            holder.proc.kill()
            killed_at = time.monotonic()
            taken = await sipp.meanwhile(
                survivor.wait_for_event("call of a lost worker taken over", 60, call_key=call_key)
            )
            noticed_s = time.monotonic() - killed_at
            await sipp.meanwhile(survivor.wait_for_event("call.resumed", 30, call_key=call_key))
            resumed_s = time.monotonic() - killed_at
            sipp.go()  # the caller talked on, and now hangs up
            ended = await survivor.wait_for_event("call.ended", 60, call_key=call_key)
            result = await sipp.wait()
    assert result.returncode == 0, result.describe()
    print(f"run {run}: lost worker noticed {noticed_s:.2f} s, resumed {resumed_s:.2f} s after kill")
    assert taken["lost_worker"]

    assert (ended["outcome"], ended["ended_by"], ended["disconnect_reason"]) == (
        "completed",
        "caller",
        "CLIENT_INITIATED",
    ), ended
    assert ended["talk_s"] > noticed_s, ended
    assert not survivor.events(event="call.started", call_key=call_key)

    hooks = await webhooks_of_the_call(fleet.receiver, call_key, ended["seq"])
    types = [h["type"] for h in hooks]
    assert types.count("call.started") == 1 and types.count("call.ended") == 1, types
    seqs = [h["seq"] for h in hooks]
    assert len(set(seqs)) == len(seqs), seqs
    assert hooks[-1]["data"]["ended_by"] == "caller", hooks[-1]

    store = CallStore.open(fleet.settings["db_url"])
    row = store.find(call_id)
    assert row is not None and (row["outcome"], row["ended_by"]) == ("completed", "caller"), row
    timeline = [e["type"] for e in store.timeline(call_id)]
    assert timeline.count("call.started") == 1 and timeline.count("call.ended") == 1, timeline
    assert timeline[-1] == "call.ended", timeline


async def webhooks_of_the_call(
    receiver: WebhookReceiver, call_key: str, last_seq: int
) -> list[Record]:
    """The call's webhook bodies, by seq, once its call.ended (seq `last_seq`) arrived."""
    await receiver.deliveries.wait_for(
        lambda d: d["body"]["call_key"] == call_key and d["body"]["seq"] == last_seq,
        30,
        "the call's call.ended webhook",
    )
    bodies = [d["body"] for d in receiver.deliveries.all() if d["body"]["call_key"] == call_key]
    # A delivery in flight when its sender died may arrive twice, with one webhook-id.
    unique = {b["seq"]: b for b in bodies}
    return [unique[s] for s in sorted(unique)]
